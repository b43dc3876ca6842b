package main

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

// Bounds of the browser test.
const (
	// browserTimeout bounds both of chromium's runs (about 3 s each); it is killed with its helpers after it.
	browserTimeout = 30 * time.Second
	// browserRenderBudget is the virtual time chromium gives the page (scripts, the app's API calls, its timers)
	// before it dumps the DOM. Virtual time does not pass while a request is pending.
	browserRenderBudget = 5 * time.Second
)

// TestDashboardInBrowser loads the dashboard into a real browser, Debian's chromium in headless mode, against a
// running worker that has one of our tasks in each of critical, default and low, and checks what the app rendered
// from its API: a row for each of our queues in the home page's queue table, and our joiner's task, its payload
// masked, in the default queue's pending tasks. The HTML the server sends holds neither (its root element is empty
// until the app's scripts have run and their fetches of <path>/api/... have answered; the test checks that too),
// so the test fails if the scripts, the API behind basic auth or the masking formatter break the page. chromium
// gets the credentials from the URL, as an operator's browser gets them from its password prompt.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		testenv.SkipOrFail(t, "chromium is not installed (apt-get install chromium; .ci/run installs it)")
	}
	f, r, rdb := startDashboardWorker(t, map[string]string{
		"WORKER_MONITORING_USER": dashUser, "WORKER_MONITORING_PASSWORD": dashPassword})
	tasks := enqueueOurTasks(t, rdb, f.source)
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	page, err := url.Parse(r.baseURL + "/monitoring/")
	require.NoError(t, err)
	page.User = url.UserPassword(dashUser, dashPassword)
	queueLink := func(q string) *regexp.Regexp {
		return regexp.MustCompile(`<a [^>]*href="/monitoring/queues/` + q + `"[^>]*>` + q + `</a>`)
	}

	// The home page: the queue table.
	code, static := dashboardDo(t, http.MethodGet, r.baseURL+"/monitoring/", dashUser, dashPassword)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(static), `<div id="root"></div>`, "the server sends an empty app")
	dom := dumpDOM(ctx, t, chromium, page.String())
	require.Contains(t, dom, "<title>Asynq - Monitoring</title>")
	for _, q := range []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow} {
		require.NotRegexp(t, queueLink(q), string(static))
		require.Regexp(t, queueLink(q), dom, "the queue table shows %s; the page's text:\n%s", q, pageText(dom))
	}

	// The default queue's pending tasks: our joiner, its payload masked.
	page.Path, page.RawQuery = "/monitoring/queues/"+jobs.QueueDefault, "status=pending"
	dom = dumpDOM(ctx, t, chromium, page.String())
	text := pageText(dom)
	require.Contains(t, text, tasks[jobs.QueueDefault].id[:8], "the pending task is listed; the page's text:\n%s", text)
	require.Contains(t, text, jobs.TypeUserCreate)
	require.Contains(t, text, `"g***@corp.example"`)
	require.Contains(t, text, `"E-default"`)
	require.NotContains(t, dom, "grace.hopper")
	require.NotContains(t, dom, "Hopper")
}

// dumpDOM runs headless chromium on pageURL and returns the DOM after the render budget. chromium runs in a
// process group of its own with a fresh profile; the whole group is killed when chromium exits, fails or ctx
// ends, so none of its helper processes outlives the test.
func dumpDOM(ctx context.Context, t *testing.T, chromium, pageURL string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(),
		// Hermetic: the page's Google Fonts links fail at once instead of waiting for the network.
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--window-size=1280,900",
		"--virtual-time-budget="+strconv.Itoa(int(browserRenderBudget.Milliseconds())),
		"--dump-dom", pageURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	err := cmd.Wait()
	// The browser has exited; its helpers (zygote, renderers) may not have.
	if kerr := syscall.Kill(-pgid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Errorf("kill chromium's process group: %v", kerr)
	}
	require.NoError(t, ctx.Err(), "chromium did not finish in time; stderr:\n%s", stderr.String())
	require.NoError(t, err, "chromium failed; stderr:\n%s", stderr.String())
	t.Logf("chromium rendered %s in %s", redactURL(pageURL), time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// pageText is the text of a dumped DOM's app: tags, styles and scripts removed.
func pageText(dom string) string {
	if i := strings.Index(dom, `<div id="root">`); i >= 0 {
		dom = dom[i:]
	}
	dom = regexp.MustCompile(`(?s)<(style|script|svg)\b.*?</(style|script|svg)>`).ReplaceAllString(dom, "")
	dom = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(dom, " ")
	return strings.Join(strings.Fields(html.UnescapeString(dom)), " ")
}
