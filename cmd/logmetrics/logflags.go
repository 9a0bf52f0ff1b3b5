package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/logmetrics/logmetrics/internal/config"
	"github.com/logmetrics/logmetrics/internal/logging"
)

// logFlags are a command's -log-level and -log-format. A flag given on the
// command line wins; else the rules file's log_level and log_format; else
// the command's default level, and text.
type logFlags struct {
	level, format *string
	defLevel      string
}

func addLogFlags(fs *flag.FlagSet, defLevel string) logFlags {
	return logFlags{
		level:    fs.String("log-level", "", "log `LEVEL`: "+strings.Join(logging.Levels, ", ")+" (default: the rules file's log_level, else "+defLevel+")"),
		format:   fs.String("log-format", "", "log `FORMAT`: "+strings.Join(logging.Formats, " or ")+" (default: the rules file's log_format, else text)"),
		defLevel: defLevel,
	}
}

// options are the flags over the rules file's settings over the defaults;
// cfg may be nil (a rules file with errors).
func (f logFlags) options(cfg *config.Config) logging.Options {
	o := logging.Options{Level: f.defLevel, Format: "text"}
	if cfg != nil {
		o.Level = cmp.Or(cfg.Agent.LogLevel, o.Level)
		o.Format = cmp.Or(cfg.Agent.LogFormat, o.Format)
		o.Secrets = secrets(cfg)
	}
	o.Level = cmp.Or(*f.level, o.Level)
	o.Format = cmp.Or(*f.format, o.Format)
	return o
}

// check reports a bad flag value before anything else happens.
func (f logFlags) check() error {
	if *f.level != "" && !slices.Contains(logging.Levels, *f.level) {
		return fmt.Errorf("-log-level: %q is not one of %s", *f.level, strings.Join(logging.Levels, ", "))
	}
	if *f.format != "" && !slices.Contains(logging.Formats, *f.format) {
		return fmt.Errorf("-log-format: %q is not one of %s", *f.format, strings.Join(logging.Formats, ", "))
	}
	return nil
}

// logger makes the command's logger. The InfluxDB token is a secret it
// never shows.
func (f logFlags) logger(w io.Writer, cfg *config.Config) (*slog.Logger, error) {
	return logging.New(w, f.options(cfg))
}

// secrets are what no output may show: the InfluxDB token, and the
// password of its url if it has one.
func secrets(cfg *config.Config) []string {
	if cfg.InfluxDB == nil {
		return nil
	}
	out := []string{cfg.InfluxDB.Sink.Token}
	if u, err := url.Parse(cfg.InfluxDB.Sink.URL); err == nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	return out
}

// loadConfigLogged is loadConfigFor for the commands that log (run and
// backfill): with JSON logs, the rules file's diagnostics are log records
// too, so that a log collector reads every line the agent writes. It
// returns nil, after saying why, when the file has errors or the flags are
// bad.
func loadConfigLogged(e *env, cmd, path string, logf logFlags, strict func(*config.Config, hcl.Diagnostics) hcl.Diagnostics) (*config.Config, *slog.Logger) {
	if err := logf.check(); err != nil {
		fmt.Fprintf(e.stderr, "logmetrics %s: %v\n", cmd, err)
		return nil, nil
	}
	if path == "" {
		fmt.Fprintf(e.stderr, "logmetrics %s: -config is required (see logmetrics %s -h)\n", cmd, cmd)
		return nil, nil
	}
	cfg, files, diags := config.Load(path)
	if cfg != nil && strict != nil {
		diags = strict(cfg, diags)
	}
	if logf.options(cfg).Format != "json" {
		if cfg = printDiagnostics(e, path, files, diags, cfg); cfg == nil {
			return nil, nil
		}
		log, err := logf.logger(e.stderr, cfg)
		if err != nil {
			fmt.Fprintf(e.stderr, "logmetrics %s: %v\n", cmd, err)
			return nil, nil
		}
		return cfg, log
	}
	log, err := logf.logger(e.stderr, cfg) // cfg may be nil: the flags alone
	if err != nil {
		fmt.Fprintf(e.stderr, "logmetrics %s: %v\n", cmd, err)
		return nil, nil
	}
	for _, d := range diags {
		lvl, attrs := slog.LevelWarn, []any{"detail", d.Detail}
		if d.Severity == hcl.DiagError {
			lvl = slog.LevelError
		}
		if d.Subject != nil {
			attrs = append(attrs, "file", d.Subject.Filename, "line", d.Subject.Start.Line, "column", d.Subject.Start.Column)
		}
		log.Log(context.Background(), lvl, d.Summary, attrs...)
	}
	if diags.HasErrors() {
		log.Error("the rules file has errors", "file", path, "diagnostics", countDiags(diags))
		return nil, nil
	}
	return cfg, log
}
