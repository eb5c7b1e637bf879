package testservers_test

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// roundTrip sends line to addr and returns the first line of the answer.
func roundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if line != "" {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read from %s: %v", addr, err)
	}
	return strings.TrimSpace(got)
}

func TestRedisKeepsAppendOnlyDataAcrossKill(t *testing.T) {
	r := testservers.StartRedisWith(t, testservers.RedisOptions{AppendOnly: true})
	if got := roundTrip(t, r.Addr, "SET k v1\r\n"); got != "+OK" {
		t.Fatalf("SET answered %q", got)
	}
	r.Kill(t)
	if _, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		t.Fatal("the killed server still accepts connections")
	}
	r.Start(t)
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET k\r\n"))
	br := bufio.NewReader(c)
	l1, _ := br.ReadString('\n')
	l2, _ := br.ReadString('\n')
	if strings.TrimSpace(l1) != "$2" || strings.TrimSpace(l2) != "v1" {
		t.Fatalf("after kill and start GET k = %q %q, want v1", l1, l2)
	}
}

func TestNATSClusterOfThree(t *testing.T) {
	var nodes []*testservers.NATS
	ports := []int{testservers.FreePort(t), testservers.FreePort(t), testservers.FreePort(t)}
	for i := range 3 {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(p))
			}
		}
		nodes = append(nodes, testservers.PrepareNATS(t, testservers.NATSOptions{
			JetStream: true, ServerName: "n" + strconv.Itoa(i), ClusterName: "abx", ClusterPort: ports[i], Routes: routes,
		}))
	}
	for _, n := range nodes {
		n.Start(t)
	}
	info := roundTrip(t, nodes[0].URL[len("nats://"):], "")
	if !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"jetstream":true`) {
		t.Fatalf("greeting of a JetStream node: %s", info)
	}
	nodes[1].Kill(t)
	nodes[1].Start(t)
	if info := roundTrip(t, nodes[1].URL[len("nats://"):], ""); !strings.Contains(info, `"server_name":"n1"`) {
		t.Fatalf("restarted node's greeting: %s", info)
	}
}

func TestPostgresAcceptsQueriesAfterRestart(t *testing.T) {
	pg := testservers.StartPostgres(t)
	psql := func() string {
		bin, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
		path := "psql"
		if len(bin) > 0 {
			path = bin[len(bin)-1]
		}
		out, err := exec.Command(path, pg.DSN, "-tAc", "select current_database()").CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := psql(); got != "abxbus" {
		t.Fatalf("current_database() = %q", got)
	}
	pg.Kill(t)
	pg.Start(t)
	if got := psql(); got != "abxbus" {
		t.Fatalf("after kill and start: current_database() = %q", got)
	}
}
