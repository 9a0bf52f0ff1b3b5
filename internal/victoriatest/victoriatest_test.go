package victoriatest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mapping is line protocol of every field type and its samples in
// VictoriaMetrics 1.79.5, worked out by hand: what Expect must compute and
// what the server must hold after a write through /api/v2/write.
var mapping = struct {
	lp   string
	want []string
}{
	lp: strings.Join([]string{
		// 2^53+1 is not a float64: it is stored as 2^53.
		`cpu,host=a,region=eu usage=1.5,cores=4i,big=9007199254740993i,free=7u,ok=true,down=false 1700000000123456789`,
		// A string becomes the number it spells, else 0.
		`cpu,host=b name="x \"y\"",level="12.5",empty="" 1700000000999999999`,
		// 1 ns later, the same millisecond: two samples.
		`cpu,host=b usage=2 1700000001000000000`,
		`cpu,host=b usage=3 1700000001000000001`,
	}, "\n"),
	want: []string{
		`cpu_big{host="a",region="eu"} 9.007199254740992e+15 1700000000123`,
		`cpu_cores{host="a",region="eu"} 4 1700000000123`,
		`cpu_down{host="a",region="eu"} 0 1700000000123`,
		`cpu_empty{host="b"} 0 1700000000999`,
		`cpu_free{host="a",region="eu"} 7 1700000000123`,
		`cpu_level{host="b"} 12.5 1700000000999`,
		`cpu_name{host="b"} 0 1700000000999`,
		`cpu_ok{host="a",region="eu"} 1 1700000000123`,
		`cpu_usage{host="a",region="eu"} 1.5 1700000000123`,
		`cpu_usage{host="b"} 2 1700000001000`,
		`cpu_usage{host="b"} 3 1700000001000`,
	},
}

func TestExpect(t *testing.T) {
	got, err := Expect([]byte(mapping.lp))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mapping.want, Strings(got)); diff != "" {
		t.Errorf("Expect (-want +got):\n%s", diff)
	}
	if _, err := Expect([]byte("m v=1\n")); err == nil {
		t.Error("Expect of a point without a time: no error")
	}
}

// TestServer: the server maps InfluxDB data as Expect says, through the
// v2 endpoint logmetrics uses, gzip or not; /write adds the db argument as
// a label, /api/v2/write ignores bucket and org.
func TestServer(t *testing.T) {
	s := Start(t)
	s.Write(t, "/api/v2/write?bucket=logs&org=example&precision=ns", mapping.lp)
	if diff := cmp.Diff(mapping.want, Strings(s.Dump(t))); diff != "" {
		t.Fatalf("Dump after /api/v2/write (-want +got):\n%s", diff)
	}
	s.Write(t, "/write?db=logs&precision=ns", "disk,host=a free=-3i 1700000002000000000\n")
	s.Write(t, "/write?db=logs&precision=ns", "disk,host=a,db=own free=-4i 1700000002000000000\n")
	want := append(slices.Clone(mapping.want),
		`disk_free{db="logs",host="a"} -3 1700000002000`,
		`disk_free{db="own",host="a"} -4 1700000002000`,
	)
	if diff := cmp.Diff(want, Strings(s.Dump(t))); diff != "" {
		t.Errorf("Dump after /write?db= (-want +got):\n%s", diff)
	}
}

// The server started in a subtest is gone when the subtest ends.
func TestServerStopsAtCleanup(t *testing.T) {
	var url string
	t.Run("run", func(t *testing.T) {
		url = Start(t).URL()
	})
	if url == "" {
		t.Fatal("the subtest did not start a server")
	}
	resp, err := http.Get(url + "/health")
	if err == nil {
		resp.Body.Close()
		t.Errorf("GET /health after cleanup: %s, want a connection error", resp.Status)
	}
}

// outcome catches Fatal and Skip of findBinary.
type outcome struct {
	testing.TB
	fatal, skip string
}

func (o *outcome) Helper() {}

func (o *outcome) Fatal(args ...any) { o.fatal = fmt.Sprint(args...); runtime.Goexit() }

func (o *outcome) Fatalf(format string, args ...any) {
	o.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (o *outcome) Skip(args ...any) { o.skip = fmt.Sprint(args...); runtime.Goexit() }

func findBinaryOutcome(t *testing.T) (path string, o *outcome) {
	o = &outcome{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = findBinary(o)
	}()
	<-done
	return path, o
}

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "a")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	hint := "bin/victoria-metrics not found: run `make victoria-metrics` (looked for " + filepath.Join(dir, "bin", "victoria-metrics") + ")"

	t.Run("missing binary skips outside CI", func(t *testing.T) {
		t.Setenv("LOGMETRICS_VICTORIA", "")
		t.Setenv("CI", "")
		if _, o := findBinaryOutcome(t); o.skip != hint || o.fatal != "" {
			t.Errorf("skip %q, fatal %q; want skip %q", o.skip, o.fatal, hint)
		}
	})
	t.Run("missing binary fails under CI", func(t *testing.T) {
		t.Setenv("LOGMETRICS_VICTORIA", "")
		t.Setenv("CI", "true")
		if _, o := findBinaryOutcome(t); o.fatal != hint || o.skip != "" {
			t.Errorf("fatal %q, skip %q; want fatal %q", o.fatal, o.skip, hint)
		}
	})
	t.Run("a wrong LOGMETRICS_VICTORIA fails", func(t *testing.T) {
		t.Setenv("LOGMETRICS_VICTORIA", filepath.Join(dir, "nothing"))
		t.Setenv("CI", "")
		if _, o := findBinaryOutcome(t); !strings.HasPrefix(o.fatal, "victoriatest: LOGMETRICS_VICTORIA: ") {
			t.Errorf("fatal %q, skip %q; want a fatal about LOGMETRICS_VICTORIA", o.fatal, o.skip)
		}
	})
	t.Run("module binary", func(t *testing.T) {
		t.Setenv("LOGMETRICS_VICTORIA", "")
		bin := filepath.Join(dir, "bin", "victoria-metrics")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(bin)
		if path, o := findBinaryOutcome(t); path != bin || o.fatal != "" || o.skip != "" {
			t.Errorf("findBinary = %q (fatal %q, skip %q); want %q", path, o.fatal, o.skip, bin)
		}
	})
}

// TestServerRoundsFloats: a fraction comes back within ApproxValues but
// not exactly, a whole number up to 2^53 exactly.
func TestServerRoundsFloats(t *testing.T) {
	s := Start(t)
	s.Write(t, "/api/v2/write?bucket=b&precision=ns", "m frac=4221.583147380966,whole=9007199254740992 1000000\n")
	want := []Sample{
		{Series: "m_frac{}", Value: 4221.583147380966, MS: 1},
		{Series: "m_whole{}", Value: 9007199254740992, MS: 1},
	}
	got := s.Dump(t)
	if diff := cmp.Diff(want, got, ApproxValues); diff != "" {
		t.Fatalf("Dump (-want +got):\n%s", diff)
	}
	if got[0].Value == want[0].Value {
		t.Errorf("%v came back exactly: VictoriaMetrics keeps more than 12 digits now, ApproxValues can go", got[0])
	}
	if got[1].Value != want[1].Value {
		t.Errorf("whole number %v came back as %v", want[1].Value, got[1].Value)
	}
}
