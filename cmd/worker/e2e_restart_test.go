package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// restartEmployees is how many joiners the restart tests publish; testdata/e2e-expected-restart.json lists them,
// with E20–E22 closed by the leavers published after the restart.
const restartEmployees = 40

// publishJoiners publishes the base joiners 1..restartEmployees through r.
func publishJoiners(t *testing.T, r *workerRun, s scenario) {
	t.Helper()
	for n := 1; n <= restartEmployees; n++ {
		r.publish(t, "hr.employee.joined", s.joined(fmt.Sprintf("j%02d", n), baseEmployee(n), s.t0))
	}
}

// publishLeavers publishes the leavers of E20–E22 through r.
func publishLeavers(t *testing.T, r *workerRun, s scenario) {
	t.Helper()
	for _, n := range []int{20, 21, 22} {
		ev := s.left(fmt.Sprintf("l%02d", n), n, s.t0.Add(time.Minute))
		r.publish(t, subjectOf(ev), ev)
	}
}

// activeUsers counts the directory's users other than the seed's admin.
func activeUsers(sim *docusignsim.Server) int {
	n := 0
	for _, u := range sim.Dump().Users {
		if u.ID != docusignsim.DemoAdminUserID {
			n++
		}
	}
	return n
}

// waitDirectory waits until the simulator's directory equals want, then checks that nothing is left to run in the
// queue and nothing was archived.
func waitDirectory(t *testing.T, f *fixture, want map[string]expectedUser, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, "the directory equals the expected one", func() bool {
		got := directory(t, f.sim)
		return maps.EqualFunc(got, want, func(a, b expectedUser) bool { return fmt.Sprint(a) == fmt.Sprint(b) })
	})
	insp := asynq.NewInspectorFromRedisClient(f.rdb)
	// The tasks a killed worker was running stay active until asynq's
	// recoverer finds their lease expired (lease 30 s, then a check every
	// minute, then the retry), even when the directory is already right:
	// allow for it.
	waitFor(t, 3*time.Minute, "the queue is drained", func() bool {
		q, err := insp.GetQueueInfo(f.queue)
		require.NoError(t, err)
		return q.Pending+q.Active+q.Scheduled+q.Retry == 0
	})
	q, err := insp.GetQueueInfo(f.queue)
	require.NoError(t, err)
	require.Zero(t, q.Archived, "nothing archived")
	require.Equal(t, want, directory(t, f.sim))
}

// TestEndToEndRestart stops the worker (context cancelled, as on SIGTERM) while joiners are being provisioned and
// starts a new one on the same Redis and NATS store: every employee is provisioned exactly once.
func TestEndToEndRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	want := loadExpected(t, "testdata/e2e-expected-restart.json")
	// A slow create keeps the run going long enough to stop it in the middle.
	require.NoError(t, f.sim.SetFault(docusignsim.Fault{Operation: opAdminCreate, Latency: 400 * time.Millisecond}))
	s := scenario{source: f.source, t0: time.Now().Add(-time.Hour)}

	r1 := f.start(t, map[string]string{"WORKER_SHUTDOWN_TIMEOUT": "1s"})
	publishJoiners(t, r1, s)
	waitFor(t, 30*time.Second, "a few joiners are provisioned", func() bool { return activeUsers(f.sim) >= 5 })
	require.Equal(t, 0, r1.stop(t, 20*time.Second))
	stoppedAt := activeUsers(f.sim)
	t.Logf("stopped with %d of %d employees provisioned", stoppedAt, restartEmployees)
	require.Less(t, stoppedAt, restartEmployees, "the worker was stopped in the middle of the run")

	f.sim.ClearFaults()
	r2 := f.start(t, nil)
	// The leavers go after every joiner: published earlier, a leaver could overtake its joiner, which would then be
	// stale (ordering by effective time) and the employee would never exist.
	waitFor(t, 60*time.Second, "every joiner is provisioned", func() bool { return activeUsers(f.sim) == restartEmployees })
	publishLeavers(t, r2, s)
	waitDirectory(t, f, want, 60*time.Second)
	require.Equal(t, 0, r2.stop(t, 20*time.Second))
}

// workerProcess is the worker binary running as a child process.
type workerProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	run  *workerRun // its HTTP and NATS addresses, for the publish and metric helpers
}

// buildWorker builds the worker binary into a temporary directory.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startProcess runs the binary with env (and nothing of the test's own environment but PATH and HOME) and waits
// until it serves HTTP.
func startProcess(t *testing.T, bin string, env map[string]string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin) //nolint:gosec // the binary the test built
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &workerProcess{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	var line map[string]any
	waitFor(t, 30*time.Second, "the worker process serves HTTP", func() bool {
		select {
		case <-p.done:
			t.Fatalf("worker process exited during start; log:\n%s", p.out.String())
		default:
		}
		var ok bool
		line, ok = p.out.find(t, "http server listening")
		return ok
	})
	p.run = &workerRun{out: p.out, baseURL: "http://" + line["addr"].(string)}
	if nl, ok := p.out.find(t, "running the embedded NATS server"); ok {
		p.run.natsURL = nl["url"].(string)
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("worker process %d survived SIGKILL", p.cmd.Process.Pid)
	}
}

// terminate sends SIGTERM and waits for a clean exit.
func (p *workerProcess) terminate(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("worker process did not stop on SIGTERM; log:\n%s", p.out.String())
	}
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode(), "log:\n%s", lastLines(p.out.String(), 20))
}

// lastLines is the end of a log, for failure messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestEndToEndKilled kills the worker process (SIGKILL: no shutdown at all) while joiners are being provisioned and
// starts it again on the same Redis and NATS store: asynq's recoverer brings back the tasks whose lease expired, and
// every employee is provisioned exactly once.
func TestEndToEndKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a worker process and waits for asynq's crash recovery (~1 min)")
	}
	t.Parallel()
	f := newFixture(t)
	bin := buildWorker(t)
	want := loadExpected(t, "testdata/e2e-expected-restart.json")
	require.NoError(t, f.sim.SetFault(docusignsim.Fault{Operation: opAdminCreate, Latency: 150 * time.Millisecond}))
	s := scenario{source: f.source, t0: time.Now().Add(-time.Hour)}

	p1 := startProcess(t, bin, f.env)
	publishJoiners(t, p1.run, s)
	waitFor(t, 30*time.Second, "a few joiners are provisioned", func() bool { return activeUsers(f.sim) >= 5 })
	p1.kill(t)
	killedAt := activeUsers(f.sim)
	t.Logf("killed with %d of %d employees provisioned", killedAt, restartEmployees)
	require.Less(t, killedAt, restartEmployees, "the worker was killed in the middle of the run")

	f.sim.ClearFaults()
	restarted := time.Now()
	p2 := startProcess(t, bin, f.env)
	waitFor(t, 150*time.Second, "every joiner is provisioned", func() bool { return activeUsers(f.sim) == restartEmployees })
	t.Logf("every joiner provisioned %s after the restart", time.Since(restarted).Round(time.Second))
	publishLeavers(t, p2.run, s)
	waitDirectory(t, f, want, 150*time.Second)
	t.Logf("converged %s after the restart", time.Since(restarted).Round(time.Second))
	p2.terminate(t)
}
