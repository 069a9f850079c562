// Package chserver starts a private ClickHouse server from the binary
// installed on the machine (clickhouse-server of 18.16, or the single
// clickhouse binary of current releases), in a directory of its own and on
// loopback ports, for the tests and the demo.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinary is returned when no ClickHouse server binary is installed.
var ErrNoBinary = errors.New("no ClickHouse server binary found: install it with `apt-get install -y clickhouse-server clickhouse-client` (Debian/Ubuntu), or put the single `clickhouse` binary of a current release on PATH")

// Server is a running private ClickHouse server.
type Server struct {
	Dir      string
	TCPPort  int
	HTTPPort int
	Binary   string
	cmd      *exec.Cmd
	done     chan error
}

// Find returns the command line that runs a ClickHouse server, preferring
// clickhouse-server and falling back to `clickhouse server`.
func Find() ([]string, error) {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return []string{p}, nil
		}
	}
	for _, name := range []string{"clickhouse", "/usr/bin/clickhouse", "/usr/local/bin/clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return []string{p, "server"}, nil
		}
	}
	return nil, ErrNoBinary
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs a server whose data lives in dir, on tcpPort (0 picks a free
// port), and waits until it accepts connections. The server is killed if
// this process dies.
//
// Free ports are picked, then released for the server to take: another
// process (tests of other packages start servers in parallel) may take
// one first. The server then exits with "Address already in use", and
// Start tries again on other free ports, three times at most.
func Start(ctx context.Context, dir string, tcpPort int) (*Server, error) {
	for try := 1; ; try++ {
		s, err := StartWith(ctx, dir, Options{TCPPort: tcpPort})
		if err == nil || tcpPort != 0 || try == 3 || !strings.Contains(err.Error(), "Address already in use") {
			return s, err
		}
	}
}

// Options are the settings of StartWith.
type Options struct {
	// TCPPort and HTTPPort are the server's ports (0 picks a free one): a
	// server restarted on its directory keeps them by naming them.
	TCPPort, HTTPPort int
	// Extra is XML added to the configuration's root element: a cluster's
	// zookeeper, macros, remote_servers and interserver settings.
	Extra string
}

// StartWith is Start with more settings.
func StartWith(ctx context.Context, dir string, o Options) (*Server, error) {
	tcpPort := o.TCPPort
	argv, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if tcpPort == 0 {
		if tcpPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	httpPort := o.HTTPPort
	if httpPort == 0 {
		if httpPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(configXML(dir, tcpPort, httpPort, o.Extra)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], append(argv[1:], "--config-file="+filepath.Join(dir, "config.xml"))...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	// Pdeathsig follows the OS thread that forked: keep that thread alive
	// by not exiting it (Unlock, not a locked goroutine's exit).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	out.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s := &Server{Dir: dir, TCPPort: tcpPort, HTTPPort: httpPort, Binary: argv[0], cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()

	deadline := time.Now().Add(90 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("clickhouse server exited during start (%v); see %s", err, s.logTail())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("clickhouse server did not accept connections on %s within 90s; see %s", s.Addr(), s.logTail())
		}
	}
}

// Addr is the server's native-protocol address.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.TCPPort) }

// DSN returns a clickhouse-go DSN for a database on this server.
func (s *Server) DSN(database string) string {
	return "clickhouse://default:@" + s.Addr() + "/" + database + "?dial_timeout=5s"
}

// Stop terminates the server and waits for it, killing it after 20 s.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
	return nil
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "log", "server.err.log"))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(s.Dir, "log", "stdout.log"))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return filepath.Join(s.Dir, "log") + ":\n" + strings.Join(lines, "\n")
}

func configXML(dir string, tcpPort, httpPort int, extra string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<!-- Written by Evident for a private server; root tag <yandex> is read by 18.16 and by current releases. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <timezone>UTC</timezone>
%[4]s
</yandex>
`, dir, tcpPort, httpPort, extra)
}

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>8000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`
