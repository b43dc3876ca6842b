package rules_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// Rules files for the store tests.
const (
	storeV1      = header + "rules:\n  - name: one\n    accounts: [{account_id: A}]\n"
	storeV2      = header + "rules:\n  - name: two\n    accounts: [{account_id: B}]\n"
	storeV3      = header + "rules:\n  - name: three\n    accounts: [{account_id: C}]\n"
	storeInvalid = header + "rules:\n  - name: broken\n    when: {departmnet: Sales}\n    accounts: [{account_id: A}]\n"
	storeUnknown = header + "rules:\n  - name: unknown\n    accounts: [{account_id: NOPE}]\n"
)

// writeFile replaces path atomically, as operators should.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	tmp := path + ".tmp"
	require.NoError(tb, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(tb, os.Rename(tmp, path))
}

// rejectNope is a validate function that rejects account NOPE, like Set.Validate with a Directory would.
func rejectNope(_ context.Context, s *rules.Set) error {
	for _, id := range s.Accounts() {
		if id == "NOPE" {
			return &rules.ValidationError{Problems: []rules.Problem{{File: s.Name(), Line: 5, Message: "unknown account NOPE"}}}
		}
	}
	return nil
}

func TestStoreLoad(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	st := rules.NewStore(path, rejectNope)
	require.Nil(t, st.Current())
	require.Empty(t, st.Version())

	// No file yet: an error, nothing current.
	err := st.Load(ctx)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Nil(t, st.Current())

	writeFile(t, path, storeV1)
	require.NoError(t, st.Load(ctx))
	v1 := st.Current()
	require.Equal(t, []string{"one"}, v1.RuleNames())
	require.Equal(t, v1.Version(), st.Version())
	require.Equal(t, rules.Status{Version: v1.Version(), Loads: 1, Failures: 1}, st.Status())

	// A file that does not parse keeps the old rules and returns every problem.
	writeFile(t, path, storeInvalid)
	err = st.Load(ctx)
	var ve *rules.ValidationError
	require.ErrorAs(t, err, &ve)
	requireProblem(t, ve.Problems, 5, `unknown field "departmnet"`)
	require.Same(t, v1, st.Current())
	status := st.Status()
	require.Equal(t, v1.Version(), status.Version)
	require.Equal(t, err, status.Err)
	require.Equal(t, 2, status.Failures)

	// A file the validate function rejects is never used either.
	writeFile(t, path, storeUnknown)
	require.ErrorContains(t, st.Load(ctx), "unknown account NOPE")
	require.Same(t, v1, st.Current())

	writeFile(t, path, storeV2)
	require.NoError(t, st.Load(ctx))
	require.Equal(t, []string{"two"}, st.Current().RuleNames())
	require.NotEqual(t, v1.Version(), st.Version())
	status = st.Status()
	require.NoError(t, status.Err)
	require.Equal(t, 2, status.Loads)
	require.Equal(t, 3, status.Failures)
}

func TestStoreConcurrent(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, storeV1)
	st := rules.NewStore(path, nil)
	require.NoError(t, st.Load(ctx))

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				if i == 0 {
					require.NoError(t, st.Load(ctx))
					continue
				}
				s := st.Current()
				require.NotNil(t, s)
				d := s.Evaluate(rules.Employee{})
				require.Equal(t, []string{"one"}, d.Rules)
				_ = st.Status()
			}
		})
	}
	wg.Wait()
}

// reload is one onReload call.
type reload struct {
	changed bool
	err     error
}

// watch starts st.Watch and returns its reports; the watcher stops when the test ends.
func watch(tb testing.TB, st *rules.Store) <-chan reload {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan reload, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Watch(ctx, 5*time.Millisecond, func(changed bool, err error) { reports <- reload{changed, err} })
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return reports
}

// next waits (bounded) for the next report.
func next(tb testing.TB, reports <-chan reload) reload {
	tb.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(5 * time.Second):
		tb.Fatal("no reload reported within 5 s")
		return reload{}
	}
}

func TestStoreWatch(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, storeV1)
	st := rules.NewStore(path, rejectNope)
	require.NoError(t, st.Load(ctx))
	v1 := st.Current()
	reports := watch(t, st)

	// The file the Store already holds is not loaded again (the first report is the change below), and a change
	// is loaded.
	writeFile(t, path, storeV2)
	r := next(t, reports)
	require.True(t, r.changed)
	require.NoError(t, r.err)
	require.Equal(t, []string{"two"}, st.Current().RuleNames())
	v2 := st.Current()

	// An invalid file is reported once and keeps the old rules...
	writeFile(t, path, storeInvalid)
	r = next(t, reports)
	require.False(t, r.changed)
	var ve *rules.ValidationError
	require.ErrorAs(t, r.err, &ve)
	require.Same(t, v2, st.Current())
	require.Equal(t, r.err, st.Status().Err)

	// ...then a file the validate function rejects, once...
	writeFile(t, path, storeUnknown)
	r = next(t, reports)
	require.ErrorContains(t, r.err, "NOPE")

	// ...and the next report is the next change, not a repetition.
	writeFile(t, path, storeV3)
	r = next(t, reports)
	require.True(t, r.changed)
	require.NoError(t, r.err)
	require.Equal(t, []string{"three"}, st.Current().RuleNames())
	require.NoError(t, st.Status().Err)

	// A bad edit reverted to the current rules clears the error without a reload.
	writeFile(t, path, storeInvalid)
	require.Error(t, next(t, reports).err)
	writeFile(t, path, storeV3)
	r = next(t, reports)
	require.Equal(t, reload{}, r)
	require.NoError(t, st.Status().Err)

	// A missing file is reported once; the rules stay.
	require.NoError(t, os.Remove(path))
	r = next(t, reports)
	require.ErrorIs(t, r.err, os.ErrNotExist)
	require.Equal(t, []string{"three"}, st.Current().RuleNames())

	// The file comes back with new rules.
	writeFile(t, path, storeV2)
	r = next(t, reports)
	require.True(t, r.changed)
	require.NoError(t, r.err)
	require.Equal(t, []string{"two"}, st.Current().RuleNames())
	require.NotEqual(t, v1.Version(), st.Version())
}

// TestStoreWatchRetriesLookups: a load that failed only because DocuSign could not be asked is tried again at the
// next poll, although the file did not change.
func TestStoreWatchRetriesLookups(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, storeV1)
	var failures atomic.Int32
	failures.Store(-1) // the first load succeeds
	network := errors.New("connection refused")
	st := rules.NewStore(path, func(ctx context.Context, s *rules.Set) error {
		if failures.Add(1) <= 0 || failures.Load() > 2 {
			return nil
		}
		dir := &fakeDirectory{accounts: []string{"A", "B"}, fail: map[string]error{"accounts": network}}
		return s.Validate(ctx, dir)
	})
	require.NoError(t, st.Load(ctx))
	reports := watch(t, st)

	writeFile(t, path, storeV2)
	for range 2 {
		r := next(t, reports)
		require.ErrorIs(t, r.err, rules.ErrLookup)
		require.ErrorIs(t, r.err, network)
		require.Equal(t, []string{"one"}, st.Current().RuleNames())
	}
	r := next(t, reports)
	require.True(t, r.changed)
	require.NoError(t, r.err)
	require.Equal(t, []string{"two"}, st.Current().RuleNames())
}

func TestStoreWatchStops(t *testing.T) {
	t.Parallel()

	st := rules.NewStore(filepath.Join(t.TempDir(), "rules.yaml"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Watch(ctx, 0, nil) // default interval, no callback
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}
