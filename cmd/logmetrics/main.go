// Command logmetrics follows the log files of legacy applications, turns
// their lines into InfluxDB points with rules written in HCL, and ships them.
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error,
// 130 backfill interrupted.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // time.location works on hosts without a zone database
)

// version and commit are set at build time with -ldflags "-X main.version=...
// -X main.commit=..." (the Makefile does); without them, version says what
// the go command recorded.
var version, commit = "dev", ""

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// env is what a command may touch of the process, so tests can run commands
// in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name, args, summary string
	run                 func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "-config FILE [-log-level LEVEL] [-log-format FORMAT]", "follow the sources and ship their points", cmdRun},
		{"check", "-config FILE", "validate a rules file and run its examples", cmdCheck},
		{"test", "-config FILE [-source NAME] [FILE ...]", "dry run: print the points of files (or stdin, after the examples) as line protocol", cmdTest},
		{"backfill", "-config FILE [-source NAME] [-since TIME] [-until TIME] [-n] [-log-level LEVEL] [-log-format FORMAT] [PATH ...]", "write the points of archived logs (plain, gzip, zstd, bzip2) as run would have", cmdBackfill},
		{"reload", "-config FILE", "check a rules file and have the agent running on its state folder reload it (SIGHUP)", cmdReload},
		{"dashboard", "-config FILE [-datasource NAME] [-list]", "print a Grafana dashboard of the rules and the agent's self-metrics (JSON)", cmdDashboard},
		{"version", "", "print the version", cmdVersion},
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		// SIGHUP's default action kills the process. The agent ignores
		// it from here until reloadOnHangups handles it, and again after,
		// so that `systemctl reload` just after a start or during a stop
		// does no harm. (Go's runtime and package initialisation, a few
		// ms, come before this line: nothing can be done about those.)
		signal.Ignore(syscall.SIGHUP)
	}
	os.Exit(dispatch(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func dispatch(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "logmetrics: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: logmetrics <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "logmetrics <command> -h" for a command's flags.`)
}

// flags makes a command's flag set, printing its usage to stderr.
func flags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		for _, c := range commands {
			if c.name == name {
				fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s.\n", strings.TrimSpace("logmetrics "+c.name+" "+c.args), capitalize(c.summary))
			}
		}
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parse parses a command's flags. It returns done with the exit code when
// the command should stop: after -h (0) or a bad flag (2).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	case err != nil:
		return exitUsage, true
	}
	return 0, false
}

// noArgs reports whether the command got no arguments besides its flags,
// and otherwise says so on stderr, with hint when there is one.
func noArgs(e *env, fs *flag.FlagSet, hint string) bool {
	if fs.NArg() == 0 {
		return true
	}
	if hint != "" {
		hint = " (" + hint + ")"
	}
	fmt.Fprintf(e.stderr, "logmetrics %s: unexpected arguments %q%s\n", fs.Name(), fs.Args(), hint)
	return false
}

func cmdVersion(e *env, args []string) int {
	fs := flags(e, "version")
	if code, done := parse(fs, args); done {
		return code
	}
	if !noArgs(e, fs, "") {
		return exitUsage
	}
	rev := commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
		if rev != "" {
			rev = " " + rev
		}
		fmt.Fprintf(e.stdout, "logmetrics %s%s (%s)\n", version, rev, bi.GoVersion)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "logmetrics %s %s\n", version, commit)
	return exitOK
}
