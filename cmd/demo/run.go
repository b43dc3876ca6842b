package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
)

// Bounds of the demo's steps.
const (
	startTimeout   = 60 * time.Second
	processTimeout = 90 * time.Second
	stopTimeout    = 20 * time.Second
)

type options struct {
	dir      string
	redisURL string
	once     bool
	httpAddr string
	natsAddr string
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", ".demo", "folder for the demo's binaries, logs, keys and data")
	fs.StringVar(&o.redisURL, "redis-url", getenv("DEMO_REDIS_URL"), "use this running Redis instead of starting one (DEMO_REDIS_URL); "+
		"the demo uses its queues and keys, so give it a database of its own")
	fs.BoolVar(&o.once, "once", getenv("DEMO_ONCE") != "", "exit after the sample events are processed (DEMO_ONCE)")
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8080", "the worker's HTTP address (a free port when taken)")
	fs.StringVar(&o.natsAddr, "nats-addr", "127.0.0.1:4222", "the embedded NATS server's address (a free port when taken)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	d := &demo{o: o, out: stdout, errOut: stderr}
	defer d.stopAll()
	if err := d.run(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "demo: interrupted; stopping")
			return 0
		}
		fmt.Fprintf(stderr, "demo: %v\n", err)
		d.tailLogs()
		return 1
	}
	return 0
}

// demo is one run: its options and the processes it started.
type demo struct {
	o           options
	out, errOut io.Writer
	procs       []*proc
	bin         string

	redisURL string
	sim      docusignsim.Info
	httpURL  string
	natsURL  string
}

// proc is a started process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, "demo: "+format+"\n", args...) }

func (d *demo) run(ctx context.Context) error {
	abs, err := filepath.Abs(d.o.dir)
	if err != nil {
		return err //nolint:wrapcheck // a path
	}
	d.o.dir = abs
	d.bin = filepath.Join(abs, "bin")
	// The simulator starts empty each time, so the worker's state starts empty too.
	for _, sub := range []string{"redis", "nats"} {
		if err := os.RemoveAll(filepath.Join(abs, sub)); err != nil {
			return fmt.Errorf("clear %s: %w", sub, err)
		}
	}
	for _, sub := range []string{"bin", "logs", "key"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", abs, err)
		}
	}
	d.say("building the worker, the simulator and the enqueue CLI into %s", d.bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", d.bin+string(os.PathSeparator), "./cmd/worker", "./cmd/docusign-sim", "./cmd/enqueue")
	build.Stdout, build.Stderr = d.errOut, d.errOut
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build (run the demo from the repository root): %w", err)
	}
	if err := d.startRedis(ctx); err != nil {
		return err
	}
	if err := d.startSimulator(ctx); err != nil {
		return err
	}
	if err := d.startWorker(ctx); err != nil {
		return err
	}
	first, second := sampleEvents(time.Now().UTC())
	published := 0
	for i, batch := range [][]string{first, second} {
		if err := d.publish(ctx, fmt.Sprintf("events-%d.jsonl", i+1), batch); err != nil {
			return err
		}
		published += len(batch)
		if err := d.waitProcessed(ctx, published); err != nil {
			return err
		}
	}
	if err := d.report(ctx); err != nil {
		return err
	}
	if d.o.once {
		d.say("done (DEMO_ONCE): stopping everything")
		return nil
	}
	d.say("running; press Ctrl-C to stop everything")
	select {
	case <-ctx.Done():
		return nil
	case p := <-d.exited():
		return fmt.Errorf("%s stopped unexpectedly (log: %s)", p.name, p.log)
	}
}

// start runs a binary in its own process group, killed if the demo dies.
func (d *demo) start(name string, env []string, path string, args ...string) (*proc, error) {
	logPath := filepath.Join(d.o.dir, "logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	d.procs = append(d.procs, p)
	return p, nil
}

// exited delivers the first started process that ends.
func (d *demo) exited() <-chan *proc {
	ch := make(chan *proc, len(d.procs))
	for _, p := range d.procs {
		go func() {
			<-p.done
			ch <- p
		}()
	}
	return ch
}

// stopAll stops the processes in reverse start order: SIGTERM to the group,
// SIGKILL after stopTimeout.
func (d *demo) stopAll() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		d.say("stopped %s", p.name)
	}
	d.procs = nil
}

// tailLogs shows the end of each log after a failure.
func (d *demo) tailLogs() {
	for _, p := range d.procs {
		raw, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(d.errOut, "--- last lines of %s\n%s\n", p.log, strings.Join(lines, "\n"))
	}
}

// startRedis uses -redis-url, or starts redis-server (installing it from
// Debian when missing and running as root).
func (d *demo) startRedis(ctx context.Context) error {
	if d.o.redisURL != "" {
		d.redisURL = d.o.redisURL
		d.say("using the running Redis at %s", d.redisURL)
		return pingRedis(ctx, d.redisURL)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Geteuid() != 0 {
			return errors.New("redis-server is not installed: run `sudo apt-get install -y redis-server`, " +
				"or point -redis-url (DEMO_REDIS_URL) at a running Redis")
		}
		d.say("installing redis-server from Debian (apt-get)")
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "redis-server"}} {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			cmd.Stdout, cmd.Stderr = d.errOut, d.errOut
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("apt-get %s: %w", strings.Join(args, " "), err)
			}
		}
	}
	port, err := freePort("127.0.0.1:6380")
	if err != nil {
		return err
	}
	data := filepath.Join(d.o.dir, "redis")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", data, err)
	}
	if _, err := d.start("redis", nil, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", data, "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction"); err != nil {
		return err
	}
	d.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	if err := waitFor(ctx, startTimeout, func() bool { return pingRedis(ctx, d.redisURL) == nil }); err != nil {
		return fmt.Errorf("redis-server did not answer on port %d: %w", port, err)
	}
	d.say("redis-server on 127.0.0.1:%d (data in %s)", port, data)
	return nil
}

func pingRedis(ctx context.Context, u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return rdb.Ping(pctx).Err() //nolint:wrapcheck // reported by the caller
}

// startSimulator generates a key pair once and starts the simulator with the
// shipped seed.
func (d *demo) startSimulator(ctx context.Context) error {
	keyDir := filepath.Join(d.o.dir, "key")
	if _, err := os.Stat(filepath.Join(keyDir, "private.pem")); err != nil {
		gen := exec.CommandContext(ctx, filepath.Join(d.bin, "docusign-sim"), "-gen-key", keyDir)
		gen.Stdout, gen.Stderr = d.errOut, d.errOut
		if err := gen.Run(); err != nil {
			return fmt.Errorf("generate a key pair: %w", err)
		}
	}
	info := filepath.Join(d.o.dir, "sim.json")
	_ = os.Remove(info)
	if _, err := d.start("docusign-sim", nil, filepath.Join(d.bin, "docusign-sim"),
		"-public-key", filepath.Join(keyDir, "public.pem"), "-info-file", info); err != nil {
		return err
	}
	err := waitFor(ctx, startTimeout, func() bool {
		raw, err := os.ReadFile(info)
		return err == nil && json.Unmarshal(raw, &d.sim) == nil && d.sim.AuthURL != ""
	})
	if err != nil {
		return fmt.Errorf("the simulator did not start: %w", err)
	}
	d.say("DocuSign simulator: auth %s, admin API %s, %d accounts in %d environments", d.sim.AuthURL, d.sim.AdminURL,
		len(d.sim.Accounts), len(d.sim.Environments))
	return nil
}

// startWorker starts the worker with its embedded NATS server against the
// simulator, and waits until it is ready.
func (d *demo) startWorker(ctx context.Context) error {
	httpPort, err := freePort(d.o.httpAddr)
	if err != nil {
		return err
	}
	natsPort, err := freePort(d.o.natsAddr)
	if err != nil {
		return err
	}
	accounts := make([]string, 0, len(d.sim.Accounts))
	for _, a := range d.sim.Accounts {
		accounts = append(accounts, a.ID)
	}
	d.httpURL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	d.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	env := []string{
		"WORKER_REDIS_URL=" + d.redisURL,
		"WORKER_HTTP_ADDR=" + fmt.Sprintf("127.0.0.1:%d", httpPort),
		"WORKER_NATS_LISTEN=" + fmt.Sprintf("127.0.0.1:%d", natsPort),
		"WORKER_NATS_DATA_DIR=" + filepath.Join(d.o.dir, "nats"),
		"WORKER_DOCUSIGN_AUTH_URL=" + d.sim.AuthURL,
		"WORKER_DOCUSIGN_ADMIN_URL=" + d.sim.AdminURL,
		"WORKER_DOCUSIGN_INTEGRATION_KEY=" + d.sim.IntegrationKey,
		"WORKER_DOCUSIGN_USER_ID=" + d.sim.AdminUserIDs[0],
		"WORKER_DOCUSIGN_ORGANIZATION_ID=" + d.sim.OrganizationID,
		"WORKER_DOCUSIGN_ACCOUNTS=" + strings.Join(accounts, ","),
		"WORKER_DOCUSIGN_PRIVATE_KEY_FILE=" + filepath.Join(d.o.dir, "key", "private.pem"),
	}
	if _, err := d.start("worker", env, filepath.Join(d.bin, "worker")); err != nil {
		return err
	}
	err = waitFor(ctx, startTimeout, func() bool {
		resp, err := http.Get(d.httpURL + "/readyz") //nolint:noctx // a local probe
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("the worker did not become ready: %w", err)
	}
	d.say("worker ready: %s (embedded NATS at %s)", d.httpURL, d.natsURL)
	return nil
}

// publish writes sample events to a file and publishes them with the
// enqueue CLI, as an HR system would.
func (d *demo) publish(ctx context.Context, name string, lines []string) error {
	file := filepath.Join(d.o.dir, name)
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil { //nolint:gosec // sample data
		return fmt.Errorf("write %s: %w", file, err)
	}
	d.say("publishing %d sample HR events from %s: enqueue publish --file %s", len(lines), file, file)
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "enqueue"), "publish", "--file", file)
	cmd.Env = append(os.Environ(), "WORKER_NATS_URL="+d.natsURL)
	cmd.Stdout, cmd.Stderr = d.out, d.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("enqueue publish: %w", err)
	}
	return nil
}

// waitProcessed waits until the intake has acknowledged every event and the
// queues hold nothing runnable (the future-dated leaver stays scheduled).
func (d *demo) waitProcessed(ctx context.Context, published int) error {
	opt, err := redis.ParseURL(d.redisURL)
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	nc, err := nats.Connect(d.natsURL)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	idle := 0
	err = waitFor(ctx, processTimeout, func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := js.Consumer(cctx, events.DefaultStream, events.DefaultDurable)
		if err != nil {
			return false
		}
		ci, err := c.Info(cctx)
		if err != nil || ci.NumPending > 0 || ci.NumAckPending > 0 || ci.Delivered.Stream < uint64(published) {
			idle = 0
			return false
		}
		queues, err := insp.Queues()
		if err != nil {
			return false
		}
		for _, q := range queues {
			info, err := insp.GetQueueInfo(q)
			if err != nil || info.Pending+info.Active+info.Retry > 0 {
				idle = 0
				return false
			}
		}
		idle++
		return idle >= 3 // stable for three polls
	})
	if err != nil {
		return fmt.Errorf("the sample events were not processed in %s: %w", processTimeout, err)
	}
	return nil
}

// report prints where to look and the simulator's directory.
func (d *demo) report(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, d.sim.ControlURL+"/_sim/state", nil)
	if err != nil {
		return fmt.Errorf("state request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	defer resp.Body.Close()
	var st docusignsim.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	fmt.Fprintf(d.out, "\nThe worker is running:\n")
	fmt.Fprintf(d.out, "  dashboard   %s/monitoring/\n", d.httpURL)
	fmt.Fprintf(d.out, "  metrics     %s/metrics\n", d.httpURL)
	fmt.Fprintf(d.out, "  readiness   %s/readyz\n", d.httpURL)
	fmt.Fprintf(d.out, "  logs        %s\n", filepath.Join(d.o.dir, "logs"))
	fmt.Fprintf(d.out, "\nTry the operator CLI:\n")
	fmt.Fprintf(d.out, "  export WORKER_REDIS_URL=%s WORKER_NATS_URL=%s\n", d.redisURL, d.natsURL)
	fmt.Fprintf(d.out, "  %s dead list          # the malformed event, dead-lettered with its reason\n", filepath.Join(d.bin, "enqueue"))
	fmt.Fprintf(d.out, "  %s queue ls           # the future-dated leaver waits in the critical queue\n", filepath.Join(d.bin, "enqueue"))
	fmt.Fprintln(d.out)
	printDirectory(d.out, st)
	return nil
}

// waitFor polls cond every 250 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err() //nolint:wrapcheck // interrupted
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// freePort returns addr's port when it is free, else any free port.
func freePort(addr string) (int, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
	}
	defer ln.Close()
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return tcp.Port, nil
}
