package main

import (
	"context"
	"fmt"
	"time"

	"github.com/evident-ebm/evident/internal/jirasim"
)

func (m *Main) runJirasim(ctx context.Context, args []string) error {
	fs, _ := m.flagSet("jirasim", "Serve the Jira simulator: a Jira Cloud or Data Center site with generated, seeded data")
	addr := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	seed := fs.Uint64("seed", 7, "seed of the generated data: the same seed and size give the same data")
	issues := fs.Int("issues", 10000, "number of issues")
	projects := fs.Int("projects", 3, "number of projects (1 to 6)")
	mode := fs.String("mode", "cloud", "cloud (search/jql, Basic e-mail + API token) or datacenter (search, Bearer PAT)")
	email := fs.String("email", "demo@evident.local", "e-mail accepted in cloud mode")
	token := fs.String("token", "demo-token", "API token (cloud) or PAT (datacenter) accepted")
	now := fs.String("now", "", "the site's now, RFC 3339 (default: the current time)")
	rate429 := fs.Float64("fault-429", 0, "share of requests answered 429 with Retry-After")
	rate503 := fs.Float64("fault-503", 0, "share of requests answered 503")
	budget := fs.Int("fault-budget", 0, "requests allowed per second before 429 (0: unlimited)")
	hugePage := fs.Int64("fault-huge-page", 0, "answer every issue search with a valid page of that many bytes (hostile Jira)")
	endless := fs.Bool("fault-endless-paging", false, "answer every issue search with the first page and the same nextPageToken, forever (hostile Jira)")
	desk := fs.Bool("service-desk", false, "make the kanban project a Jira Service Management desk with customer feedback")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := jirasim.Config{Seed: *seed, Issues: *issues, Projects: *projects, Now: time.Now().UTC().Truncate(time.Second)}
	if *now != "" {
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return fmt.Errorf("--now: %q is not an RFC 3339 time", *now)
		}
		cfg.Now = t
	}
	opts := jirasim.Options{Config: cfg, ServiceDesk: *desk, Faults: jirasim.Faults{Seed: *seed, RateLimitRate: *rate429, UnavailableRate: *rate503, Budget: *budget,
		HugePageBytes: *hugePage, EndlessPaging: *endless}}
	switch *mode {
	case "cloud":
		opts.Cloud = true
		opts.Email, opts.APIToken = *email, *token
	case "datacenter", "dc", "server":
		opts.PAT = *token
	default:
		return fmt.Errorf("--mode: %q is neither cloud nor datacenter", *mode)
	}
	sim, err := jirasim.New(opts)
	if err != nil {
		return err
	}
	srv, url, err := sim.Listen(*addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Jira simulator (%s) with %d issues in %d projects (seed %d) at %s\n", *mode, *issues, *projects, *seed, url)
	if opts.Cloud {
		fmt.Fprintf(m.Stdout, "auth: Basic %s with the API token given by --token\n", *email)
	} else {
		fmt.Fprintln(m.Stdout, "auth: Bearer PAT given by --token")
	}
	<-ctx.Done()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
