module github.com/typedbus/abxbus-go/cmd/abxbus-all

go 1.26.0

require (
	github.com/typedbus/abxbus-go v0.0.0
	github.com/typedbus/abxbus-go/abxbus/bridges/nats v0.0.0
	github.com/typedbus/abxbus-go/abxbus/bridges/postgres v0.0.0
	github.com/typedbus/abxbus-go/abxbus/bridges/redis v0.0.0
	github.com/typedbus/abxbus-go/abxbus/bridges/sqlite v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/pgx/v5 v5.12.0 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
	modernc.org/sqlite v1.62.0 // indirect
)

replace (
	github.com/typedbus/abxbus-go => ../..
	github.com/typedbus/abxbus-go/abxbus/bridges/nats => ../../abxbus/bridges/nats
	github.com/typedbus/abxbus-go/abxbus/bridges/postgres => ../../abxbus/bridges/postgres
	github.com/typedbus/abxbus-go/abxbus/bridges/redis => ../../abxbus/bridges/redis
	github.com/typedbus/abxbus-go/abxbus/bridges/sqlite => ../../abxbus/bridges/sqlite
)
