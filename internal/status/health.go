package status

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// health says whether reading and writing work, with a one-line reason.
type health struct {
	ok     bool
	reason string
}

// check reads the stages: unhealthy when a followed file cannot be read,
// when InfluxDB refuses the agent's credentials or address (401, 403, 404:
// no retry will help), or when writes have failed for longer than
// unhealthyAfter without one succeeding (InfluxDB unreachable, or
// answering 5xx or 429 all along).
func (s *Server) check(now time.Time) health {
	var problems []string
	files, unreadable := 0, 0
	for _, f := range s.stages.Tailer().Files {
		files++
		if f.Err != nil {
			unreadable++
			if unreadable <= 3 {
				problems = append(problems, fmt.Sprintf("cannot read %s: %v", f.Path, f.Err))
			}
		}
	}
	if unreadable > 3 {
		problems = append(problems, fmt.Sprintf("and %d more files cannot be read", unreadable-3))
	}
	writes := "writing to stdout"
	if s.stages.Writes != nil {
		ws := s.stages.Writes()
		switch {
		case ws.FailingSince.IsZero() && ws.LastSuccess.IsZero():
			writes = "nothing written yet"
		case ws.FailingSince.IsZero():
			writes = fmt.Sprintf("last write %s ago", now.Sub(ws.LastSuccess).Round(time.Second))
		case ws.Rejected && ws.Status != 0:
			problems = append(problems, fmt.Sprintf("InfluxDB refuses the writes with %d (check the url, token, org and bucket): %s", ws.Status, ws.Err))
		case ws.Rejected:
			problems = append(problems, fmt.Sprintf("the server's certificate does not verify (check tls.ca_file and tls.server_name): %s", ws.Err))
		case now.Sub(ws.FailingSince) > s.unhealthyAfter:
			problems = append(problems, fmt.Sprintf("writes have failed for %s: %s", now.Sub(ws.FailingSince).Round(time.Second), ws.Err))
		default:
			writes = fmt.Sprintf("writes failing for %s (unhealthy after %s)", now.Sub(ws.FailingSince).Round(time.Second), s.unhealthyAfter)
		}
	}
	if len(problems) > 0 {
		return health{false, strings.Join(problems, "; ")}
	}
	return health{true, fmt.Sprintf("ok: %d files followed, %d points pending, %s", files, s.stages.Pending(), writes)}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h := s.check(time.Now())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !h.ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, s.redact(h.reason))
}
