package otel_test

import (
	"context"
	"fmt"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedbus/abxbus-go/abxbus"
	abxotel "github.com/typedbus/abxbus-go/abxbus/middleware/otel"
)

type Checkout struct {
	abxbus.Returns[string]
	Cart string `json:"cart"`
}

type Charge struct {
	abxbus.Returns[string]
	Amount int `json:"amount"`
}

// A Tracer on a bus writes a span per event and a span per handler run; a child event emitted by a
// handler is under that handler's span. Here the spans go to the SDK's in-memory exporter; a program
// would give the Tracer its usual TracerProvider (OTLP, stdout, Sentry's span processor...).
func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tracer, _ := abxotel.New(&abxotel.Options{TracerProvider: tp})

	ctx := context.Background()
	bus, _ := abxbus.New("Shop", &abxbus.Options{Middlewares: []abxbus.Middleware{tracer}})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, c Checkout) (string, error) {
		charge, err := abxbus.EmitChildOf(ctx, Charge{Amount: 42})
		if err != nil {
			return "", err
		}
		return charge.Result(ctx)
	}, abxbus.WithName("checkout"))
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) { return "paid", nil }, abxbus.WithName("charge_card"))

	out, _ := abxbus.Call(ctx, bus, Checkout{Cart: "c-1"})
	fmt.Println(out)

	spans := exp.GetSpans()
	name := map[string]string{}
	for _, s := range spans {
		name[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, s := range spans {
		parent := name[s.Parent.SpanID().String()]
		if parent == "" {
			parent = "(root)"
		}
		fmt.Printf("%-11s under %s\n", s.Name, parent)
	}
	line, _ := bus.History()[0].ToJSON()
	fmt.Println("carries traceparent:", strings.Contains(string(line), `"traceparent":"00-`))
	// Unordered output:
	// paid
	// charge_card under Charge
	// Charge      under checkout
	// checkout    under Checkout
	// Checkout    under (root)
	// carries traceparent: true
}

// Inject and Extract carry a span's trace context in an event by hand, for an event that leaves the
// process by some other way than a bus with a Tracer.
func ExampleInject() {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("app").Start(context.Background(), "send")
	defer span.End()

	e := abxbus.NewEvent(Charge{Amount: 1}).Base()
	_ = abxotel.Inject(ctx, e, nil)
	js, _ := e.ToJSON()

	received, _ := abxbus.FromJSON(js) // in the other process
	remote := trace.SpanContextFromContext(abxotel.Extract(context.Background(), received, nil))
	fmt.Println(remote.TraceID() == span.SpanContext().TraceID(), remote.IsRemote())
	// Output: true true
}
