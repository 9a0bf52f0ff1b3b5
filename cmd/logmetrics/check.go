package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/logmetrics/logmetrics/internal/config"
)

// diagWidth is where printed diagnostics wrap.
const diagWidth = 100

// configFlag adds the -config flag every command that reads rules has.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "the rules `FILE` (HCL)")
}

// loadConfig loads the rules file and prints its diagnostics, warnings
// included. It returns nil when the file has errors or none was named.
func loadConfig(e *env, cmd, path string) *config.Config {
	return loadConfigFor(e, cmd, path, nil)
}

// loadConfigFor is loadConfig with a last check of the command's own:
// strict may turn diagnostics about a loaded Config into errors.
func loadConfigFor(e *env, cmd, path string, strict func(*config.Config, hcl.Diagnostics) hcl.Diagnostics) *config.Config {
	cfg, _ := loadConfigFiles(e, cmd, path, strict)
	return cfg
}

// loadConfigFiles is loadConfigFor that also returns the parser's files,
// to print diagnostics found after loading (test's failing examples).
func loadConfigFiles(e *env, cmd, path string, strict func(*config.Config, hcl.Diagnostics) hcl.Diagnostics) (*config.Config, map[string]*hcl.File) {
	if path == "" {
		fmt.Fprintf(e.stderr, "logmetrics %s: -config is required (see logmetrics %s -h)\n", cmd, cmd)
		return nil, nil
	}
	cfg, files, diags := config.Load(path)
	if cfg != nil && strict != nil {
		diags = strict(cfg, diags)
	}
	return printDiagnostics(e, path, files, diags, cfg), files
}

// printDiagnostics prints diags as text with snippets of the file. It
// returns cfg, or nil when there are errors.
func printDiagnostics(e *env, path string, files map[string]*hcl.File, diags hcl.Diagnostics, cfg *config.Config) *config.Config {
	if len(diags) > 0 {
		if err := config.WriteDiagnostics(e.stderr, files, diags, diagWidth); err != nil {
			fmt.Fprintf(e.stderr, "logmetrics: print diagnostics: %v\n", err)
		}
	}
	if diags.HasErrors() {
		fmt.Fprintf(e.stderr, "%s: %s\n", path, countDiags(diags))
		return nil
	}
	return cfg
}

func countDiags(diags hcl.Diagnostics) string {
	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return fmt.Sprintf("%d error(s), %d warning(s)", errs, warns)
}

func cmdCheck(e *env, args []string) int {
	fs := flags(e, "check")
	path := configFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	if !noArgs(e, fs, "") {
		return exitUsage
	}
	// A failing example is an error of the rules file like any other,
	// printed with the rest.
	cfg := loadConfigFor(e, "check", *path, withExamples)
	if cfg == nil {
		return exitUsage
	}
	rules := 0
	for _, s := range cfg.Extract.Sources {
		rules += len(s.Rules)
	}
	fmt.Fprintf(e.stderr, "%s: ok, %d source(s), %d rule(s)%s\n", *path, len(cfg.Tailer.Sources), rules, examplesPassed(cfg))
	return exitOK
}

// withExamples adds an error for each failing example of cfg to diags.
func withExamples(cfg *config.Config, diags hcl.Diagnostics) hcl.Diagnostics {
	_, failed := config.RunExamples(cfg, time.Now())
	return config.Merge(diags, failed)
}

// examplesPassed is the end of the ok line of a rules file whose examples
// all passed: "" when it has none, so files without examples read as before.
func examplesPassed(cfg *config.Config) string {
	if len(cfg.Examples) == 0 {
		return ""
	}
	return fmt.Sprintf(", %d example(s) passed", len(cfg.Examples))
}
