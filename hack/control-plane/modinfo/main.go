// Command modinfo reads `go mod edit -json` output on stdin and answers the few
// questions hack/control-plane.sh has about an upstream go.mod. It uses only the
// standard library so it runs with `go run` on a machine that has nothing but Go.
//
//	modinfo edit-flags [STAGING_VERSION]
//	    `go mod edit` flags that give a throwaway main module the upstream go line
//	    and godebug defaults and, with STAGING_VERSION, replace each module that
//	    upstream requires at v0.0.0 (Kubernetes' staging modules, which upstream
//	    resolves from its own tree) with that published version.
//	modinfo require MODULE
//	    the version of MODULE that upstream requires.
//	modinfo replace-flags
//	    `go mod edit` flags that repeat upstream's replace and exclude lines in a
//	    throwaway main module (a dependency's replace lines are ignored, so a
//	    build of it needs them in the main module). A replacement by a local
//	    directory (a nested module of the same repository, absent from the
//	    module zip) becomes the published module at the version upstream
//	    requires it at.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type modVersion struct{ Path, Version string }

type goMod struct {
	Go      string
	Godebug []struct{ Key, Value string }
	Require []modVersion
	Exclude []modVersion
	Replace []struct{ Old, New modVersion }
}

// unpublished is how a go.mod requires a module it only ever takes from its own tree.
const unpublished = "v0.0.0"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "modinfo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: modinfo edit-flags [STAGING_VERSION] | require MODULE | replace-flags")
	}
	var mod goMod
	if err := json.NewDecoder(os.Stdin).Decode(&mod); err != nil {
		return fmt.Errorf("reading go mod edit -json from stdin: %w", err)
	}
	switch {
	case args[0] == "edit-flags" && len(args) <= 2:
		staging := ""
		if len(args) == 2 {
			staging = args[1]
		}
		return editFlags(mod, staging)
	case args[0] == "require" && len(args) == 2:
		return require(mod, args[1])
	case args[0] == "replace-flags" && len(args) == 1:
		return replaceFlags(mod)
	}
	return fmt.Errorf("bad arguments: %q", args)
}

func editFlags(mod goMod, staging string) error {
	if mod.Go != "" {
		fmt.Printf("-go=%s\n", mod.Go)
	}
	for _, d := range mod.Godebug {
		fmt.Printf("-godebug=%s=%s\n", d.Key, d.Value)
	}
	if staging == "" {
		return nil
	}
	replaced := 0
	for _, r := range mod.Require {
		if r.Version == unpublished {
			fmt.Printf("-replace=%s=%s@%s\n", r.Path, r.Path, staging)
			replaced++
		}
	}
	if replaced == 0 {
		return fmt.Errorf("no module is required at %s: is this the k8s.io/kubernetes go.mod?", unpublished)
	}
	return nil
}

func require(mod goMod, path string) error {
	version, err := required(mod, path)
	if err != nil {
		return err
	}
	fmt.Println(version)
	return nil
}

func replaceFlags(mod goMod) error {
	for _, e := range mod.Exclude {
		fmt.Printf("-exclude=%s@%s\n", e.Path, e.Version)
	}
	for _, r := range mod.Replace {
		old := r.Old.Path
		if r.Old.Version != "" {
			old += "@" + r.Old.Version
		}
		switch {
		case r.New.Version != "":
			fmt.Printf("-replace=%s=%s@%s\n", old, r.New.Path, r.New.Version)
		case strings.HasPrefix(r.New.Path, "./") || strings.HasPrefix(r.New.Path, "../"):
			version, err := required(mod, r.Old.Path)
			if err != nil {
				return fmt.Errorf("%s is replaced by %s but %w", r.Old.Path, r.New.Path, err)
			}
			fmt.Printf("-replace=%s=%s@%s\n", old, r.Old.Path, version)
		default:
			return fmt.Errorf("replacement %s of %s is neither a module version nor a relative directory", r.New.Path, old)
		}
	}
	return nil
}

func required(mod goMod, path string) (string, error) {
	for _, r := range mod.Require {
		if r.Path == path {
			return r.Version, nil
		}
	}
	return "", fmt.Errorf("%s is not required", path)
}
