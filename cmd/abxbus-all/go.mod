module github.com/typedbus/abxbus-go/cmd/abxbus-all

go 1.26.0

require (
	github.com/typedbus/abxbus-go v0.0.0
	github.com/typedbus/abxbus-go/abxbus/bridges/redis v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.14.0 // indirect
)

replace (
	github.com/typedbus/abxbus-go => ../..
	github.com/typedbus/abxbus-go/abxbus/bridges/redis => ../../abxbus/bridges/redis
)
