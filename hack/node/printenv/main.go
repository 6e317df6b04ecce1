// Command printenv is the node tests' workload: it prints its environment, one NAME=value
// per line in name order, and exits, so that `kubectl logs` shows what a pod was given
// (e.g. through envFrom). hack/node.sh builds it into the printenv image.
package main

import (
	"fmt"
	"os"
	"sort"
)

func main() {
	env := os.Environ()
	sort.Strings(env)
	for _, line := range env {
		fmt.Println(line)
	}
}
