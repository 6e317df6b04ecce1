// Command pause is the node mode's pod sandbox process: it holds a pod's namespaces
// open until the kubelet stops it, and reaps the zombies that processes sharing its
// PID namespace leave behind. hack/node.sh builds it into the pause image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reapZombies()
	}
}

// reapZombies collects every child that has exited, without blocking.
func reapZombies() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
