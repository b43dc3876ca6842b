package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/rules"
)

// rulesLoadTimeout bounds one load of the rules file (its DocuSign look-ups included).
const rulesLoadTimeout = time.Minute

// rulesDirectory is rules.Directory over the DocuSign client: the accounts the worker manages (each checked
// against userinfo at start), and each account's permission profile and group names through the configured
// surface.
type rulesDirectory struct {
	client   *docusign.Client
	surface  jobs.Surface
	accounts []string
}

var _ rules.Directory = rulesDirectory{}

// rulesDirectory is the worker's rules.Directory.
func (w *worker) rulesDirectory() rulesDirectory {
	return rulesDirectory{client: w.client, surface: w.cfg.DocuSignSurface, accounts: w.cfg.DocuSignAccounts}
}

func (d rulesDirectory) Accounts(context.Context) ([]string, error) { return d.accounts, nil }

func (d rulesDirectory) PermissionProfiles(ctx context.Context, accountID string) ([]string, error) {
	var names []string
	if d.surface == jobs.SurfaceAdmin {
		list, err := d.client.Admin().ListPermissionProfiles(ctx, accountID)
		if err != nil {
			return nil, err //nolint:wrapcheck // prefixed by docusign; rules adds the account
		}
		for _, p := range list.Permissions {
			names = append(names, p.Name)
		}
		return names, nil
	}
	list, err := d.client.ESignature().ListPermissionProfiles(ctx, accountID)
	if err != nil {
		return nil, err //nolint:wrapcheck // prefixed by docusign; rules adds the account
	}
	for _, p := range list.PermissionProfiles {
		names = append(names, p.PermissionProfileName)
	}
	return names, nil
}

func (d rulesDirectory) Groups(ctx context.Context, accountID string) ([]string, error) {
	var names []string
	if d.surface == jobs.SurfaceAdmin {
		list, err := d.client.Admin().ListGroups(ctx, accountID)
		if err != nil {
			return nil, err //nolint:wrapcheck // prefixed by docusign; rules adds the account
		}
		for _, g := range list.Groups {
			names = append(names, g.Name)
		}
		return names, nil
	}
	list, err := d.client.ESignature().ListGroups(ctx, accountID)
	if err != nil {
		return nil, err //nolint:wrapcheck // prefixed by docusign; rules adds the account
	}
	for _, g := range list.Groups {
		names = append(names, g.GroupName)
	}
	return names, nil
}

// startRules loads the rules file, checked against DocuSign, and starts reloading it on SIGHUP and on change. An
// invalid file at start is an error: the worker refuses to start on it.
func (w *worker) startRules(ctx context.Context) error {
	if w.cfg.RulesFile == "" {
		return nil
	}
	log := w.component("rules")
	dir := w.rulesDirectory()
	w.rules = rules.NewStore(w.cfg.RulesFile, func(ctx context.Context, set *rules.Set) error { return set.Validate(ctx, dir) })
	lctx, cancel := context.WithTimeout(ctx, rulesLoadTimeout)
	err := w.rules.Load(lctx)
	cancel()
	if err != nil {
		return fmt.Errorf("rules: the worker does not start on an invalid rules file (WORKER_RULES_FILE):\n%w", err)
	}
	set := w.rules.Current()
	log.Info().Str("file", w.cfg.RulesFile).Str("version", set.Version()).Strs("rules", set.RuleNames()).
		Str("match", string(set.Match())).Str("event_accounts", string(set.EventAccounts())).
		Str("on_exit", string(set.OnExit())).Msg("mapping rules loaded and checked against DocuSign")

	rctx, stop := context.WithCancel(context.Background())
	w.rulesStop = stop
	w.rulesDone = make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(w.rulesDone)
		defer signal.Stop(hup)
		watchDone := make(chan struct{})
		if w.cfg.RulesWatchInterval > 0 {
			go func() {
				defer close(watchDone)
				w.rules.Watch(rctx, w.cfg.RulesWatchInterval, func(changed bool, err error) { w.rulesReloaded("file change", changed, err) })
			}()
		} else {
			close(watchDone)
		}
		for {
			select {
			case <-rctx.Done():
				<-watchDone
				return
			case <-hup:
				before := w.rules.Version()
				lctx, cancel := context.WithTimeout(rctx, rulesLoadTimeout)
				err := w.rules.Load(lctx)
				cancel()
				w.rulesReloaded("SIGHUP", w.rules.Version() != before, err)
			}
		}
	}()
	return nil
}

// rulesReloaded logs a reload: the new version, or every problem of a file that was refused.
func (w *worker) rulesReloaded(trigger string, changed bool, err error) {
	log := w.component("rules")
	if err != nil {
		ev := log.Error().Bool("alert", true).Str("trigger", trigger).Str("file", w.cfg.RulesFile).
			Str("version_in_force", w.rules.Version())
		var ve *rules.ValidationError
		if errors.As(err, &ve) {
			problems := make([]string, 0, len(ve.Problems))
			for _, p := range ve.Problems {
				problems = append(problems, p.String())
			}
			ev = ev.Strs("problems", problems)
		} else {
			ev = ev.Err(err)
		}
		ev.Msg("rules file refused; the rules in force stay")
		return
	}
	ev := log.Info().Str("trigger", trigger).Str("version", w.rules.Version())
	if !changed {
		ev.Msg("rules file unchanged")
		return
	}
	ev.Strs("rules", w.rules.Current().RuleNames()).Msg("mapping rules reloaded")
}

func (w *worker) stopRules() {
	if w.rulesStop != nil {
		w.rulesStop()
		<-w.rulesDone
	}
}

// rulesCollector exports the rules store's state on each scrape.
type rulesCollector struct {
	status func() rules.Status

	info, valid, loads, failures *prometheus.Desc
}

func newRulesCollector(status func() rules.Status) *rulesCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "rules", name), help, labels, nil)
	}
	return &rulesCollector{status: status,
		info:     d("info", "1, labelled with the version (SHA-256) of the rules in force.", "version"),
		valid:    d("file_valid", "1 when the rules file's latest load succeeded; 0 when a newer file was refused and older rules are in force."),
		loads:    d("loads_total", "Successful loads of the rules file."),
		failures: d("reload_failures_total", "Refused loads of the rules file (invalid, or DocuSign names unknown): alert on any increase."),
	}
}

func (c *rulesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.valid, c.loads, c.failures} {
		ch <- d
	}
}

func (c *rulesCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	valid := 1.0
	if s.Err != nil {
		valid = 0
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, s.Version)
	ch <- prometheus.MustNewConstMetric(c.valid, prometheus.GaugeValue, valid)
	ch <- prometheus.MustNewConstMetric(c.loads, prometheus.CounterValue, float64(s.Loads))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures))
}

// logRulesOff says once what running without rules means.
func logRulesOff(log *zerolog.Logger) {
	log.Info().Msg("no WORKER_RULES_FILE: joiners and movers must carry data.accounts")
}
