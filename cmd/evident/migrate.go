package main

import (
	"context"
	"fmt"

	"github.com/evident-ebm/evident/schema"
)

// openStore loads the configuration and connects to ClickHouse.
func (m *Main) openStore(ctx context.Context, c Config) (*schema.Store, error) {
	st, err := schema.Open(ctx, c.ClickHouse.DSN)
	if err != nil {
		return nil, err
	}
	if c.ClickHouse.QueryTimeout > 0 {
		st.QueryTimeout = c.ClickHouse.QueryTimeout
	}
	return st, nil
}

// openMigrated loads the configuration and opens a store whose schema is
// up to date: what serve, sync and import all start with.
func (m *Main) openMigrated(ctx context.Context, path string) (Config, *schema.Store, error) {
	c, err := LoadConfig(path, m.Getenv)
	if err != nil {
		return c, nil, err
	}
	st, err := m.openStore(ctx, c)
	if err != nil {
		return c, nil, err
	}
	if _, err := st.Migrate(ctx, c.ClickHouse.Cluster); err != nil {
		st.Close()
		return c, nil, err
	}
	return c, st, nil
}

func (m *Main) runMigrate(ctx context.Context, args []string) error {
	fs, path := m.flagSet("migrate", "Create or upgrade the ClickHouse schema; safe to run twice and from two processes at once")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := LoadConfig(*path, m.Getenv)
	if err != nil {
		return err
	}
	st, err := m.openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Migrate(ctx, c.ClickHouse.Cluster)
	if err != nil {
		return err
	}
	applied := 0
	for _, r := range res {
		state := "already applied"
		if r.Applied {
			state = "applied"
			applied++
		}
		fmt.Fprintf(m.Stdout, "migration %04d_%s: %s\n", r.Version, r.Name, state)
	}
	fmt.Fprintf(m.Stdout, "database %s on %s: %d migration(s) applied, %d already present\n", st.Database, redactDSN(c.ClickHouse.DSN), applied, len(res)-applied)
	return nil
}
