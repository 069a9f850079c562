package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/evident-ebm/evident"
)

// syncLock keeps two `evident sync` processes of this machine from syncing
// the same site into the same database at once: an exclusive flock on a
// file named after both. The second process refuses with the first's pid.
// (Syncs from two machines are not coordinated: run the scheduler in one
// place, as docker-compose does.)
type syncLock struct{ f *os.File }

func lockPath(dsn, site string) string {
	sum := sha256.Sum256([]byte(redactDSN(dsn) + "\x00" + site))
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "evident-sync-"+hex.EncodeToString(sum[:8])+".lock")
}

func acquireSyncLock(dsn, site string) (*syncLock, error) {
	path := lockPath(dsn, site)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sync lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "unknown"
		}
		return nil, evident.Errorf(evident.ECONFLICT, "another evident sync of site %s into this database is running (pid %s); it was left alone. Wait for it, or stop it first", site, holder)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &syncLock{f: f}, nil
}

func (l *syncLock) release() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
