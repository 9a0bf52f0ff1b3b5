package loggen

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the generated part of the testdata/logs corpus, keeping hand-written tails")

// corpusDir is the shared corpus, relative to this package.
const corpusDir = "../../testdata/logs"

// corpus lists the committed files whose first lines come from loggen. The
// arguments must match the command lines in testdata/logs/README.md; lines
// after the first n are hand-written and left alone.
var corpus = []struct {
	path  string
	gen   genFunc
	n     int
	seed  uint64
	start string
	tail  int // hand-written lines after the generated ones
}{
	{"nginx/access.log", Nginx, 300, 1, "2025-10-10T13:55:36Z", 5},
	{"app/app.jsonl", JSONLines, 200, 1, "2025-10-10T13:55:36Z", 6},
	{"app/app.logfmt", Logfmt, 200, 1, "2025-10-10T13:55:36Z", 0},
	{"syslog/auth.log", Syslog, 100, 1, "2024-12-31T23:58:00Z", 0},
}

// splitAfterLines returns b cut just past its n-th newline, or ok=false when
// b has fewer lines.
func splitAfterLines(b []byte, n int) (head, tail []byte, ok bool) {
	off := 0
	for range n {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return nil, nil, false
		}
		off += i + 1
	}
	return b[:off], b[off:], true
}

// TestCorpusGeneratedPrefix regenerates the generated part of each corpus
// file, so a change to a generator cannot drift away from the committed files
// unnoticed. Run with -update after an intended generator change, and review
// the diff.
func TestCorpusGeneratedPrefix(t *testing.T) {
	for _, tc := range corpus {
		t.Run(tc.path, func(t *testing.T) {
			start, err := time.Parse(time.RFC3339, tc.start)
			if err != nil {
				t.Fatal(err)
			}
			want := generate(t, tc.gen, tc.n, tc.seed, start)
			path := filepath.Join(corpusDir, filepath.FromSlash(tc.path))
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			head, tail, ok := splitAfterLines(got, tc.n)
			if *update {
				if !ok {
					tail = nil
				}
				if err := os.WriteFile(path, append(want, tail...), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !ok {
				t.Fatalf("%s has fewer than the %d generated lines", path, tc.n)
			}
			if !bytes.Equal(head, want) {
				wl, gl := lines(want), lines(head)
				for i := range wl {
					if wl[i] != gl[i] {
						t.Fatalf("%s line %d differs from loggen's output (run go test ./internal/loggen -run TestCorpus -update after an intended change)\nwant: %s\ngot:  %s",
							path, i+1, wl[i], gl[i])
					}
				}
			}
			if n := bytes.Count(tail, []byte("\n")); n != tc.tail {
				t.Errorf("%s has %d hand-written lines after the generated ones, want %d (update README.md and this table together)", path, n, tc.tail)
			}
			if len(tail) > 0 && tail[len(tail)-1] != '\n' {
				t.Errorf("%s does not end with a newline", path)
			}
		})
	}
}

// TestCorpusOddLines checks that the hand-written tails still hold the cases
// tests rely on, since nothing regenerates them.
func TestCorpusOddLines(t *testing.T) {
	read := func(p string) []string {
		b, err := os.ReadFile(filepath.Join(corpusDir, p))
		if err != nil {
			t.Fatal(err)
		}
		return lines(b)
	}

	t.Run("nginx", func(t *testing.T) {
		var matched, unmatched, dashBytes, longest int
		for _, l := range read("nginx/access.log") {
			m := nginxRule.FindStringSubmatch(l)
			if m == nil {
				unmatched++
				continue
			}
			matched++
			if m[nginxRule.SubexpIndex("bytes")] == "-" {
				dashBytes++
			}
			longest = max(longest, len(m[nginxRule.SubexpIndex("path")]))
		}
		if unmatched != 3 {
			t.Errorf("%d lines do not match the rule regex, want the 3 malformed ones", unmatched)
		}
		if matched != 302 || dashBytes == 0 || longest < 4096 {
			t.Errorf("got %d matching lines, %d with \"-\" bytes, longest path %d; want 302, some, >= 4096", matched, dashBytes, longest)
		}
	})

	t.Run("json", func(t *testing.T) {
		ls := read("app/app.jsonl")
		var invalid, invalidUTF8 int
		for _, l := range ls {
			if !json.Valid([]byte(l)) {
				invalid++
			}
			if !utf8.ValidString(l) {
				invalidUTF8++
			}
		}
		// Truncated object, binary junk and NaN.
		if invalid != 3 || invalidUTF8 != 1 {
			t.Errorf("got %d invalid JSON lines and %d with invalid UTF-8, want 3 and 1", invalid, invalidUTF8)
		}
		tail := strings.Join(ls[len(ls)-6:], "\n")
		for _, want := range []string{`"bytes":"lots"`, `"duration_ms":{"value"`, `"status":"200"`} {
			if !strings.Contains(tail, want) {
				t.Errorf("hand-written lines lack %s", want)
			}
		}
	})
}

// TestSamplesUnchanged keeps the third-party samples byte-identical to what
// samples/SOURCES.md describes, and each next to its licence.
func TestSamplesUnchanged(t *testing.T) {
	tests := []struct {
		path   string
		sha256 string
		blob   string // upstream git blob id prefix; empty when the copy is not the upstream blob
	}{
		{"zed-sample-data/ntp.json", "d9ac47330d5356db77ce7cc4b52e42125001e25368735d12c65fbaab8ae8909c", ""},
		{"zed-sample-data/LICENSE", "3daba6c61e9c2ca2f2e5d713c3d2e2a21a6a20ae3875faad3958aa794be6b5c7", ""},
		{"lnav/logfile_logfmt.0", "0e18ec45787a1e201d6a5714f68d515a2cb157836959756e0860a3e01f7d27cc", "c453b35acf2a"},
		{"lnav/logfile_grafana.0", "493c004fb6997a4eb5608e92e89fdf7fe3f9f7f4c222def0f9994ce94c4c9498", "92c709c8f89e"},
		{"lnav/LICENSE", "7113b8b5d289fa2626798689991204e5cb2167b5d269eb148b96c642f9e26e6b", ""},
		{"mtail/lighttpd_access.log", "d38e5c369176e7aa8f0511ec1c74cc4c4e97b15d12b341e51d6b8657b9afc157", "3b31cb274977"},
		{"mtail/sftp_chroot.log", "fd9aae55621866cc6b6461c29be26020f15cde821626ce2c16598e9e36c92594", "ed33f239730f"},
		{"mtail/LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30", ""},
		// the multiline samples (testdata/multiline)
		{"elastic-examples/kafka0/controller.log.2016-12-19-18", "7fecc1986a1e5539d953076a7e0f02e2621f016734d2193f5c5013bf36fb8f2b", "6f088da5b615"},
		{"elastic-examples/kafka1/server.log.2016-12-19-20", "a7b0cd56defe5e70f35844f837914be409eab2ea4cbe1de1ebc69b28ebf44cd9", "99cb9729f353"},
		{"elastic-examples/LICENSE", "a8ad31b1c3f40dca5a84119351b8fa8ddc868edd77fad8a8ebf6d8f2d16fa4ae", ""},
		{"lnav/logfile_laravel.0", "873b367bf87a3e07b2e64482312beb8b2850e58d4567daeb3f7f32deb26d229a", "fd5feda590b4"},
		{"lnav/logfile_mysql_slow.0", "8c3b4278a5d2f07dac23e674fba4d261dc2d5b1a4c6c93927dadb9aeb8fc1194", "3582b7a5eb29"},
		{"mozilla-treeherder/wpt-tracebacks.log", "aa24b397397ac9c1f38b20ef69c6e0b39c258e7bbf6600d77664d43cff3a7ba2", ""},
		{"mozilla-treeherder/LICENSE", "1849d62b314d822ec84300f45de67ccc4894d157743a78c1ed0429dfcfc412b4", ""},
	}
	dir := filepath.Join(corpusDir, "samples")
	sources, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tc.path)))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != tc.sha256 {
				t.Errorf("sha256 %s, want %s: samples must stay byte-identical", got, tc.sha256)
			}
			if tc.blob != "" {
				if got := gitBlobID(b); !strings.HasPrefix(got, tc.blob) {
					t.Errorf("git blob id %s, want upstream %s...", got, tc.blob)
				}
			}
			if !bytes.Contains(sources, []byte(tc.sha256)) {
				t.Errorf("samples/SOURCES.md does not list sha256 %s", tc.sha256)
			}
			// The licence is in the origin's folder, the first of the path.
			origin, _, _ := strings.Cut(tc.path, "/")
			if _, err := os.Stat(filepath.Join(dir, origin, "LICENSE")); err != nil {
				t.Errorf("no LICENSE beside it: %v", err)
			}
		})
	}
}

// gitBlobID is what `git hash-object` prints for b.
func gitBlobID(b []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(b)) + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
