package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxFileSize bounds what file() reads. The function is for secrets and short
// snippets; the bound keeps a mistyped path (a log, a device) from filling
// memory or blocking the load.
const maxFileSize = 1 << 20

// functions is the one table of functions a rules file may call. baseDir is
// the directory of the rules file: file() resolves relative paths against it,
// so a rules file reads the same files whatever the agent's working directory.
func functions(baseDir string) map[string]function.Function {
	return map[string]function.Function{
		"env":      envFunc,
		"hostname": hostnameFunc,
		"file":     fileFunc(baseDir),
	}
}

// envFunc is env("NAME") or env("NAME", "default"). An unset variable without
// a default is an error rather than "", so a forgotten export of a token shows
// up at load time instead of as 401s later. A variable that is set but empty
// is returned as "": setting it was deliberate.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the default when it is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
		}
		name := args[0].AsString()
		if name == "" {
			return cty.NilVal, function.NewArgErrorf(0, "the variable name is empty")
		}
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %s is not set; set it, or give a default as in env(%q, \"\")", name, name)
	},
})

// hostnameFunc is hostname(): the name the kernel reports, typically used as
// a tag on every point.
var hostnameFunc = function.New(&function.Spec{
	Description: "Returns the host name reported by the operating system.",
	Type:        function.StaticReturnType(cty.String),
	Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
		h, err := os.Hostname()
		if err != nil {
			return cty.NilVal, fmt.Errorf("hostname: %w", err)
		}
		return cty.StringVal(h), nil
	},
})

// fileFunc makes file("path"): the contents of a file, with a relative path
// taken from baseDir. One trailing newline is dropped, because editors and
// `echo` add one and a token or password never ends with one.
func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, without one trailing newline. A relative path is taken from the rules file's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path is empty")
			}
			s, err := readSmallFile(resolve(baseDir, name))
			if err != nil {
				// Name the file as written: the resolved path would
				// differ between machines, and the hint says where
				// a relative one was looked for.
				where := ""
				if !filepath.IsAbs(name) {
					where = " (a relative path is taken from the rules file's directory)"
				}
				return cty.NilVal, fmt.Errorf("read %s: %w%s", name, err, where)
			}
			s = strings.TrimSuffix(s, "\n")
			s = strings.TrimSuffix(s, "\r")
			return cty.StringVal(s), nil
		},
	})
}

// Why file() refuses a file.
var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = fmt.Errorf("larger than %d bytes", maxFileSize)
	errNotUTF8    = errors.New("not UTF-8 text")
)

// readSmallFile reads a regular, UTF-8 file of at most maxFileSize bytes.
// Refusing anything else keeps file("/dev/zero") or a FIFO from hanging the
// load. Errors do not repeat the path; the caller names the file.
func readSmallFile(path string) (string, error) {
	// Stat before opening: opening a FIFO blocks until it has a writer.
	fi, err := os.Stat(path)
	if err != nil {
		return "", pathless(err)
	}
	if !fi.Mode().IsRegular() {
		return "", errNotRegular
	}
	f, err := os.Open(path)
	if err != nil {
		return "", pathless(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	switch {
	case err != nil:
		return "", pathless(err)
	case len(b) > maxFileSize:
		return "", errTooLarge
	case !utf8.Valid(b):
		return "", errNotUTF8
	}
	return string(b), nil
}

// pathless strips the operation and path from an *fs.PathError, keeping
// "no such file or directory" and the like.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// resolve makes a relative path relative to dir; absolute paths stay as they
// are.
func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(dir, path)
}
