// Package logging makes the agent's slog loggers: text or JSON, at a
// level, and never showing a secret. The InfluxDB token must not appear in
// any log line, whatever carries it there (an error of a library that
// quotes a request, a URL with a password, a value a rule extracted); the
// handler replaces each secret wherever it occurs, after the attributes
// are resolved, so no call site has to remember.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// Formats and Levels are the values of -log-format and log_format, and of
// -log-level and log_level.
var (
	Formats = []string{"text", "json"}
	Levels  = []string{"debug", "info", "warn", "error"}
)

// Redacted replaces a secret in log output.
const Redacted = "[REDACTED]"

// Options say how a logger writes.
type Options struct {
	Format string // "text" (the default) or "json"
	Level  string // "debug", "info" (the default), "warn" or "error"
	// Secrets never appear in the output: each occurrence is replaced by
	// Redacted. Empty strings are ignored.
	Secrets []string
	// NoTime leaves the time out (for output that should read the same on
	// every run, such as a dry run's).
	NoTime bool
}

// New returns a logger writing to w, or an error naming a bad format or
// level.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	var lvl slog.Level
	if o.Level != "" {
		if err := lvl.UnmarshalText([]byte(o.Level)); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.Level)
		}
	}
	secrets := nonEmpty(o.Secrets)
	hopts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if o.NoTime && a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		if len(secrets) > 0 {
			a.Value = redact(a.Value, secrets)
		}
		return a
	}}
	switch o.Format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", o.Format)
}

// redact returns v with every secret replaced. Values other than strings
// (errors, stringers, anything formatted with %v) are checked in their
// printed form and become strings only when they hold a secret.
func redact(v slog.Value, secrets []string) slog.Value {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindAny:
		s = fmt.Sprint(v.Any())
	default: // numbers, times, durations, booleans: no secret fits
		return v
	}
	if !slices.ContainsFunc(secrets, func(secret string) bool { return strings.Contains(s, secret) }) {
		return v
	}
	return slog.StringValue(replaceSecrets(s, secrets))
}

func replaceSecrets(s string, secrets []string) string {
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}

// Redactor returns what replaces each of secrets in a text with Redacted,
// for text that is shown without going through a logger (the agent's
// /healthz). Empty strings are ignored.
func Redactor(secrets []string) func(string) string {
	secrets = nonEmpty(secrets)
	return func(s string) string { return replaceSecrets(s, secrets) }
}

// nonEmpty is secrets without "", which would match everywhere.
func nonEmpty(secrets []string) []string {
	return slices.DeleteFunc(slices.Clone(secrets), func(s string) bool { return s == "" })
}
