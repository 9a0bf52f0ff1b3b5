package tailer

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	good := Source{Name: "app", Paths: []string{"/var/log/app/**/*.log"}, Exclude: []string{"*.gz"}}
	tests := []struct {
		name string
		cfg  Config
		// want lists the problems as "source/part".
		want []string
	}{
		{name: "minimal", cfg: Config{Sources: []Source{good}}},
		{
			name: "everything set",
			cfg: Config{
				Sources:      []Source{good, {Name: "b", Paths: []string{"b.log"}, StartAt: StartAtBeginning}},
				PollInterval: time.Minute,
				MaxLineBytes: 10,
			},
		},
		{name: "no sources", cfg: Config{}, want: []string{"/sources"}},
		{
			name: "every problem is reported",
			cfg: Config{
				PollInterval: -time.Second,
				MaxLineBytes: -1,
				Sources: []Source{
					good,
					{Paths: []string{"x"}},
					{Name: "app", Paths: []string{"[", ""}, Exclude: []string{"{"}, StartAt: 7},
					{Name: "none"},
				},
			},
			want: []string{
				"/poll_interval", "/max_line_bytes",
				"/name",
				"app/name", "app/paths", "app/paths", "app/exclude", "app/start_at",
				"none/paths",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var ce *ConfigError
					if !errors.As(e, &ce) {
						t.Fatalf("%v is not a *ConfigError", e)
					}
					got = append(got, ce.Source+"/"+ce.Part)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	t.Parallel()
	err := Config{Sources: []Source{{Name: "app", Paths: []string{"["}}}, PollInterval: -1}.Validate()
	want := "poll_interval: must not be negative, got -1ns\n" + `source "app": paths: bad glob "["`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want:\n%s", err, want)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	got := Config{}.withDefaults()
	want := Config{PollInterval: DefaultPollInterval, MaxLineBytes: DefaultMaxLineBytes}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	set := Config{PollInterval: time.Hour, MaxLineBytes: 3}
	if diff := cmp.Diff(set, set.withDefaults()); diff != "" {
		t.Errorf("set values changed (-want +got):\n%s", diff)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted a config without sources")
	}
}

func TestSourceOf(t *testing.T) {
	cfg := Config{Sources: []Source{
		{Name: "nginx", Paths: []string{"/var/log/nginx/*.log"}, Exclude: []string{"error.log"}},
		{Name: "all", Paths: []string{"/var/log/**/*.log"}, Exclude: []string{"/var/log/skip/*"}},
	}}
	tests := []struct{ path, want string }{
		{"/var/log/nginx/access.log", "nginx"}, // both match: the first owns it, as Run does
		{"/var/log/nginx/error.log", "all"},    // excluded by the first only
		{"/var/log/app/x.log", "all"},
		{"/var/log/skip/x.log", ""},
		{"/srv/other.log", ""},
	}
	for _, tc := range tests {
		if got := cfg.SourceOf(tc.path); got != tc.want {
			t.Errorf("SourceOf(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
