// Package testservers starts real servers (PostgreSQL, Redis, NATS, from the machine's packages) on
// loopback for the tests of the bridge and middleware modules. Each server runs as a child process of
// the test on a free port with its data in a fresh directory, and is stopped (and its data removed) in
// t.Cleanup.
//
// A missing server binary skips the test with a message saying what to install, except where the
// servers are mandatory: in CI (CI=true) and under `make test`, which exports
// ABXBUS_REQUIRE_SERVERS=1; there it fails the test.
package testservers

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that makes a missing server binary fail the tests.
const RequireEnv = "ABXBUS_REQUIRE_SERVERS"

// StartTimeout bounds how long a server may take to accept connections after it was started.
var StartTimeout = 60 * time.Second

func mandatory() (bool, string) {
	for _, name := range []string{RequireEnv, "CI"} {
		if on, _ := strconv.ParseBool(os.Getenv(name)); on {
			return true, name + "=" + os.Getenv(name)
		}
	}
	return false, ""
}

// lookBinary finds a server binary on PATH or in dirs, or skips/fails t saying which package has it.
func lookBinary(t testing.TB, name, debianPackage string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, name))
		if len(matches) > 0 {
			return matches[len(matches)-1]
		}
	}
	msg := fmt.Sprintf("%s is not installed (Debian package %s)", name, debianPackage)
	if on, why := mandatory(); on {
		t.Fatalf("%s, and the servers are mandatory here (%s): apt-get install %s", msg, why, debianPackage)
	}
	t.Skipf("%s; the test needs a real server: apt-get install %s (make test and CI=true require it)", msg, debianPackage)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one server process that can be stopped, killed and started again with the same arguments.
type proc struct {
	name  string
	path  string
	args  []string
	dir   string
	cred  *syscall.Credential
	log   string
	ready func() error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		t.Fatalf("testservers: %s is already running", p.name)
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("testservers: %s log: %v", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testservers: start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	deadline := time.Now().Add(StartTimeout)
	for {
		err := p.ready()
		if err == nil {
			return
		}
		select {
		case <-done:
			p.cmd = nil
			t.Fatalf("testservers: %s exited while starting (%v); its log %s:\n%s", p.name, cmd.ProcessState, p.log, tail(p.log))
		default:
		}
		if time.Now().After(deadline) {
			p.signalLocked(syscall.SIGKILL)
			<-done
			p.cmd = nil
			t.Fatalf("testservers: %s not ready after %v: %v; its log %s:\n%s", p.name, StartTimeout, err, p.log, tail(p.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) signalLocked(sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// signal sends sig to the running server's process group (SIGSTOP/SIGCONT: freeze and resume it).
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signalLocked(sig)
}

// stop sends sig to the server's process group and waits for it to exit (SIGKILL after 30 s).
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.signalLocked(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.signalLocked(syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// dialReady succeeds once addr accepts a TCP connection and check (if not nil) accepts its greeting.
func dialReady(addr string, check func(net.Conn, *bufio.Reader) error) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if check == nil {
		return nil
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	return check(c, bufio.NewReader(c))
}

// Redis is a redis-server on 127.0.0.1.
type Redis struct {
	// Addr is host:port.
	Addr string
	// Port is the TCP port.
	Port int
	// Dir holds the server's data (the append-only file when RedisOptions.AppendOnly).
	Dir string
	p   *proc
}

// RedisOptions configure StartRedisWith.
type RedisOptions struct {
	// AppendOnly turns on the append-only file (appendfsync always), so data survives Restart and
	// Kill.
	AppendOnly bool
	// Args are extra redis-server arguments.
	Args []string
}

// StartRedis starts a redis-server without persistence.
func StartRedis(t testing.TB) *Redis { return StartRedisWith(t, RedisOptions{}) }

// StartRedisWith starts a redis-server with o.
func StartRedisWith(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	bin := lookBinary(t, "redis-server", "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir, "--save", "",
		"--protected-mode", "yes", "--daemonize", "no"}
	if o.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, o.Args...)
	r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir}
	r.p = &proc{name: "redis-server :" + strconv.Itoa(port), path: bin, args: args, dir: dir,
		log: filepath.Join(dir, "redis.log"), ready: func() error {
			return dialReady(r.Addr, func(c net.Conn, br *bufio.Reader) error {
				if _, err := c.Write([]byte("PING\r\n")); err != nil {
					return err
				}
				line, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				if !strings.HasPrefix(line, "+PONG") {
					return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
				}
				return nil
			})
		}}
	r.p.start(t)
	t.Cleanup(func() { r.p.stop(syscall.SIGTERM) })
	return r
}

// URL returns redis://127.0.0.1:PORT.
func (r *Redis) URL() string { return "redis://" + r.Addr }

// Stop shuts the server down (SIGTERM) and waits for it.
func (r *Redis) Stop(t testing.TB) { r.p.stop(syscall.SIGTERM) }

// Kill kills the server (SIGKILL) and waits for it.
func (r *Redis) Kill(t testing.TB) { r.p.stop(syscall.SIGKILL) }

// Freeze stops the server without ending it (SIGSTOP): connections stay open and nothing is answered,
// as with a server that hangs. Resume (SIGCONT) lets it go on; Cleanup resumes it before stopping it.
func (r *Redis) Freeze(t testing.TB) {
	r.p.signal(syscall.SIGSTOP)
	t.Cleanup(func() { r.p.signal(syscall.SIGCONT) })
}

// Resume lets a frozen server go on.
func (r *Redis) Resume(t testing.TB) { r.p.signal(syscall.SIGCONT) }

// Start starts a stopped or killed server again on the same port and data directory.
func (r *Redis) Start(t testing.TB) { t.Helper(); r.p.start(t) }

// Restart stops the server and starts it again on the same port and data directory.
func (r *Redis) Restart(t testing.TB) { t.Helper(); r.Stop(t); r.Start(t) }

// NATS is a nats-server on 127.0.0.1.
type NATS struct {
	// URL is nats://127.0.0.1:PORT.
	URL string
	// Port is the client port; ClusterPort the route port (0 without a cluster).
	Port, ClusterPort int
	// StoreDir holds the JetStream store.
	StoreDir string
	p        *proc
}

// NATSOptions configure StartNATS. The zero value is a core NATS server.
type NATSOptions struct {
	// JetStream turns JetStream on (-js), with its store in StoreDir (default: a fresh directory).
	JetStream bool
	StoreDir  string
	// ServerName names the server (-n); needed in a cluster.
	ServerName string
	// ClusterName, ClusterPort and Routes make the server a cluster member: ClusterPort 0 with a
	// ClusterName picks a free port; Routes are nats-route://127.0.0.1:PORT of the other members.
	ClusterName string
	ClusterPort int
	Routes      []string
	// Port is the client port; 0 picks a free one.
	Port int
	// Args are extra nats-server arguments.
	Args []string
}

// StartNATS starts a nats-server with o.
func StartNATS(t testing.TB, o NATSOptions) *NATS {
	t.Helper()
	n := PrepareNATS(t, o)
	n.Start(t)
	return n
}

// PrepareNATS is StartNATS without the start (for a cluster whose members must know each other's
// ports before any starts); call Start.
func PrepareNATS(t testing.TB, o NATSOptions) *NATS {
	t.Helper()
	bin := lookBinary(t, "nats-server", "nats-server", "/usr/sbin", "/usr/local/bin")
	dir := t.TempDir()
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}
	n := &NATS{URL: "nats://127.0.0.1:" + strconv.Itoa(port), Port: port}
	if o.ServerName != "" {
		args = append(args, "-n", o.ServerName)
	}
	if o.JetStream {
		n.StoreDir = o.StoreDir
		if n.StoreDir == "" {
			n.StoreDir = filepath.Join(dir, "js")
		}
		args = append(args, "-js", "-sd", n.StoreDir)
	}
	if o.ClusterName != "" {
		n.ClusterPort = o.ClusterPort
		if n.ClusterPort == 0 {
			n.ClusterPort = FreePort(t)
		}
		args = append(args, "--cluster_name", o.ClusterName, "--cluster", "nats://127.0.0.1:"+strconv.Itoa(n.ClusterPort))
		if len(o.Routes) > 0 {
			args = append(args, "--routes", strings.Join(o.Routes, ","))
		}
	}
	args = append(args, o.Args...)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	n.p = &proc{name: "nats-server :" + strconv.Itoa(port), path: bin, args: args, dir: dir,
		log: filepath.Join(dir, "nats.log"), ready: func() error {
			return dialReady(addr, func(c net.Conn, br *bufio.Reader) error {
				line, err := br.ReadString('\n')
				if err != nil {
					return err
				}
				if !strings.HasPrefix(line, "INFO ") {
					return fmt.Errorf("greeting %q", strings.TrimSpace(line))
				}
				return nil
			})
		}}
	t.Cleanup(func() { n.p.stop(syscall.SIGTERM) })
	return n
}

// RouteURL returns nats-route://127.0.0.1:CLUSTERPORT, for the Routes of the other members.
func (n *NATS) RouteURL() string { return "nats-route://127.0.0.1:" + strconv.Itoa(n.ClusterPort) }

// Start starts a prepared, stopped or killed server (same ports and store).
func (n *NATS) Start(t testing.TB) { t.Helper(); n.p.start(t) }

// Stop shuts the server down (SIGTERM) and waits for it.
func (n *NATS) Stop(t testing.TB) { n.p.stop(syscall.SIGTERM) }

// Kill kills the server (SIGKILL) and waits for it.
func (n *NATS) Kill(t testing.TB) { n.p.stop(syscall.SIGKILL) }

// Restart stops the server and starts it again on the same ports and store.
func (n *NATS) Restart(t testing.TB) { t.Helper(); n.Stop(t); n.Start(t) }

// Postgres is a PostgreSQL server on 127.0.0.1 with a database "abxbus" and the trust-authenticated
// superuser "postgres".
type Postgres struct {
	// DSN is postgres://postgres@127.0.0.1:PORT/abxbus?sslmode=disable.
	DSN string
	// Port is the TCP port.
	Port int
	p    *proc
}

// StartPostgres initialises a cluster in a fresh directory and starts PostgreSQL on it. Postgres
// refuses to run as root, so under root the server runs as the "postgres" user (the Debian package
// creates it).
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := lookBinary(t, "postgres", "postgresql", "/usr/lib/postgresql/*/bin")
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real // initdb, pg_isready and createdb sit beside the real binary
	}
	binDir := filepath.Dir(bin)
	cred, uid, gid := postgresCredential(t)
	base, err := os.MkdirTemp("", "abxbus-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	data, sock := filepath.Join(base, "data"), filepath.Join(base, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = base
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testservers: initdb: %v\n%s", err, out)
	}
	port := FreePort(t)
	pg := &Postgres{Port: port, DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/abxbus?sslmode=disable", port)}
	isready := filepath.Join(binDir, "pg_isready")
	pg.p = &proc{name: "postgres :" + strconv.Itoa(port), path: bin, dir: base, cred: cred,
		args: []string{"-D", data, "-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port), "-k", sock, "-c", "fsync=off"},
		log:  filepath.Join(base, "postgres.log"), ready: func() error {
			out, err := exec.Command(isready, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-t", "1").CombinedOutput()
			if err != nil {
				return fmt.Errorf("pg_isready: %v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		}}
	pg.p.start(t)
	t.Cleanup(func() { pg.p.stop(syscall.SIGINT) })
	createdb := exec.Command(filepath.Join(binDir, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "abxbus")
	if out, err := createdb.CombinedOutput(); err != nil {
		t.Fatalf("testservers: createdb abxbus: %v\n%s", err, out)
	}
	return pg
}

func postgresCredential(t testing.TB) (*syscall.Credential, int, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, 0, 0
	}
	out, err := exec.Command("id", "-u", "postgres").Output()
	if err != nil {
		t.Fatalf("testservers: PostgreSQL refuses to run as root and there is no postgres user (%v)", err)
	}
	uid, err1 := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", "postgres").Output()
	gid, err2 := strconv.Atoi(strings.TrimSpace(string(out)))
	if err := errors.Join(err, err1, err2); err != nil {
		t.Fatalf("testservers: postgres user: %v", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid
}

// Stop shuts the server down (fast shutdown, SIGINT) and waits for it.
func (pg *Postgres) Stop(t testing.TB) { pg.p.stop(syscall.SIGINT) }

// Kill kills the server (SIGKILL) and waits for it.
func (pg *Postgres) Kill(t testing.TB) { pg.p.stop(syscall.SIGKILL) }

// Start starts a stopped or killed server again on the same port and data.
func (pg *Postgres) Start(t testing.TB) { t.Helper(); pg.p.start(t) }

// Restart stops the server and starts it again on the same port and data.
func (pg *Postgres) Restart(t testing.TB) { t.Helper(); pg.Stop(t); pg.Start(t) }
