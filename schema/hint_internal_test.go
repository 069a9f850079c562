package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// An ON CLUSTER statement that timed out (code 159) says what to do; other
// errors, and a statement of a server without a cluster, add nothing.
func TestClusterHintOnlyForATimedOutClusterStatement(t *testing.T) {
	timeout := fmt.Errorf("wrapped: %w", &clickhouse.Exception{Code: 159, Message: "Watching task /clickhouse/task_queue/ddl/query-0000000032 is executing longer than distributed_ddl_task_timeout"})
	if h := clusterHint(Options{Cluster: "evident"}, timeout); !strings.Contains(h, "cluster evident") || !strings.Contains(h, "Restart that server and run the migration again") {
		t.Fatalf("hint for a timed-out ON CLUSTER statement: %q", h)
	}
	for _, c := range []struct {
		cluster string
		err     error
	}{{"", timeout}, {"evident", &clickhouse.Exception{Code: 44, Message: "column already exists"}}, {"evident", fmt.Errorf("dial tcp: i/o timeout")}} {
		if h := clusterHint(Options{Cluster: c.cluster}, c.err); h != "" {
			t.Fatalf("hint for %q, cluster %q: %q", c.err, c.cluster, h)
		}
	}
}
