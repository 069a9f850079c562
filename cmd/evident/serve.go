package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/inputs"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs, path := m.flagSet("serve", "Serve the dashboard and the JSON API, and sync Jira on a schedule when sync_interval is set")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := m.newLogger(*logFormat, slog.LevelInfo)
	if err != nil {
		return err
	}
	c, st, err := m.openMigrated(ctx, *path)
	if err != nil {
		return err
	}
	defer st.Close()
	return m.serve(ctx, st, c, log, nil)
}

// checkListen refuses to serve beyond loopback without tokens.
func checkListen(addr string, auth bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return evident.Errorf(evident.EINVALID, "listen address %q: %v", addr, err)
	}
	if auth {
		return nil
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return evident.Errorf(evident.EINVALID, "listen address %s is reachable from the network but no token is configured: set EVIDENT_AUTH_TOKENS (viewer:…,admin:…) or listen on 127.0.0.1", addr)
}

// serve runs the dashboard until ctx ends. ready, when set, receives the
// URL once the server listens.
func (m *Main) serve(ctx context.Context, st *schema.Store, c Config, log *slog.Logger, ready chan<- string) error {
	auth := len(c.Auth.ViewerTokens)+len(c.Auth.AdminTokens) > 0
	if err := checkListen(c.Listen, auth); err != nil {
		return err
	}
	// Data written while no serve or sync was running (an upgrade from a
	// version without the read model, an interrupted build) is built now.
	if g, built, err := st.BuildReadModelIfStale(ctx); err != nil {
		log.Error("building the read model failed: measures show the previous build", "err", err)
	} else if built {
		log.Info("read model built", "issues", g.Issues, "transitions", g.Transitions, "seconds", g.Took.Seconds())
	}
	ms := metrics.New(st)
	ms.Now = m.Now
	in := inputs.New(st, inputs.SaltFromEnv(m.Getenv))
	in.Now = m.Now
	jiraURL := ""
	if len(c.Sites) == 1 && !c.noJiraLinks {
		jiraURL = c.Sites[0].URL
	}
	wait := map[string][]string{}
	rules := map[string]metrics.Rules{}
	for _, site := range c.Sites {
		for key, ps := range site.ProjectSettings {
			wait[key] = append(wait[key], ps.WaitStatuses...)
			rules[key] = metrics.Rules{BlockedStatuses: ps.BlockedStatuses, StalledStatuses: ps.StalledStatuses, StallDays: ps.StallDays, Expedited: ps.ExpeditedPriorities}
		}
	}
	// One sync of this process at a time: scheduled syncs and the fetches
	// webhooks ask for.
	var syncing sync.Mutex
	var hooks *collector.Webhooks
	for _, site := range c.Sites {
		if site.WebhookSecret != "" {
			syncer := collector.NewSyncer(st, log)
			syncer.Now = m.Now
			hooks = &collector.Webhooks{Syncer: syncer, Sites: c.Sites, Lock: &syncing, Log: log}
			break
		}
	}
	cfg := dashboard.Config{Measures: ms, Pinger: st, Inputs: in, Log: log, Now: m.Now,
		ViewerTokens: c.Auth.ViewerTokens, AdminTokens: c.Auth.AdminTokens, JiraURL: jiraURL, WaitStatuses: wait, Rules: rules,
		Versioner: st, CacheBytes: c.CacheMB << 20, Busy: func() bool {
			if syncing.TryLock() {
				syncing.Unlock()
				return false
			}
			return true
		}}
	if hooks != nil {
		cfg.Webhooks = hooks
		go hooks.Run(ctx)
	}
	srv := dashboard.New(cfg)
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	url := "http://" + ln.Addr().String()
	if !auth {
		log.Warn("no dashboard token configured: serving on loopback only, everyone who reaches it is an admin", "url", url)
	}
	fmt.Fprintf(m.Stdout, "Evident dashboard at %s\n", url)
	if ready != nil {
		ready <- url
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.App.Listener(ln) }()
	if c.SyncInterval > 0 && len(c.Sites) > 0 {
		go m.syncLoop(ctx, st, c, log, &syncing)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := srv.Shutdown(10 * time.Second); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// syncLoop syncs every site now and then every interval; a failed sync is
// logged and retried at the next tick.
func (m *Main) syncLoop(ctx context.Context, st *schema.Store, c Config, log *slog.Logger, syncing sync.Locker) {
	s := collector.NewSyncer(st, log)
	s.Now = m.Now
	t := time.NewTicker(c.SyncInterval)
	defer t.Stop()
	for {
		for _, site := range c.Sites {
			syncing.Lock()
			sum, err := s.Sync(ctx, site, collector.Incremental)
			syncing.Unlock()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				log.Error("scheduled sync failed", "site", site.Name, "err", strings.TrimSpace(evident.ErrorMessage(err)+" "+internalDetail(err)))
				continue
			}
			log.Info("scheduled sync", "summary", summaryLine(sum))
			snapshotBacklogs(ctx, st, site, log, m.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func internalDetail(err error) string {
	if evident.ErrorCode(err) == evident.EINTERNAL {
		return err.Error()
	}
	return ""
}
