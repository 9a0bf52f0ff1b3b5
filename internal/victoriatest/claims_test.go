package victoriatest

import (
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestServerDropsWithA204: what the README's Engines section says
// VictoriaMetrics does that the sink cannot see. A point 10 days ahead is
// answered 204 (Write fails the test otherwise), not stored, and counted
// in vm_rows_ignored_total{reason="big_timestamp"}.
func TestServerDropsWithA204(t *testing.T) {
	s := Start(t)
	now := time.Now()
	s.Write(t, "/api/v2/write?bucket=b&precision=ns", fmt.Sprintf("m ahead=1 %d\nm now=2 %d\n", now.Add(10*24*time.Hour).UnixNano(), now.UnixNano()))
	want := []string{fmt.Sprintf("m_now{} 2 %d", now.UnixMilli())}
	if diff := cmp.Diff(want, Strings(s.Dump(t))); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	m := regexp.MustCompile(`(?m)^vm_rows_ignored_total\{reason="big_timestamp"\} (\d+)$`).FindSubmatch(s.get(t, "/metrics", nil))
	if m == nil || string(m[1]) != "1" {
		t.Errorf("vm_rows_ignored_total{reason=\"big_timestamp\"}: %q, want 1", m)
	}
}

// TestServerRunsNoInfluxQL: /query answers a dashboard's InfluxQL query
// with the reply to SHOW DATABASES, so the dashboard's panels stay empty
// on VictoriaMetrics, as the README says.
func TestServerRunsNoInfluxQL(t *testing.T) {
	s := Start(t)
	s.Write(t, "/api/v2/write?bucket=b&precision=ns", fmt.Sprintf("nginx_requests,status=200 bytes=5i %d\n", time.Now().UnixNano()))
	s.Dump(t)
	show := s.get(t, "/query", url.Values{"q": {"SHOW DATABASES"}})
	sel := s.get(t, "/query", url.Values{"db": {"logs"}, "q": {`SELECT count("bytes") FROM "nginx_requests" WHERE time > now() - 1h GROUP BY time(1m), "status" fill(0)`}})
	if string(sel) != string(show) {
		t.Errorf("/query of a SELECT: %s\nwant the SHOW DATABASES reply: %s", sel, show)
	}
}
