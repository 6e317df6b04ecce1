package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// The recorded VideoStreams of the Argo CD health check, with the health each must get.
const customizations = "../../deploy/argocd/resource_customizations"

// Where kstatus cannot agree with the Argo CD health check, and why.
var exceptions = map[string]status.Status{
	// No status at all, which only CRDs without the status default (before 0.2) serve
	// before the first reconcile: the object cannot say it uses conditions, so kstatus
	// takes it as Current (its documented corner case). unreconciled.yaml is what the API
	// server serves now, and kstatus reads it as InProgress.
	"kvs-operator.dev/VideoStream/testdata/new.yaml":      status.CurrentStatus,
	"kvs-operator.dev/SignalingChannel/testdata/new.yaml": status.CurrentStatus,
}

type healthTests struct {
	Tests []struct {
		InputPath    string `json:"inputPath"`
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
	} `json:"tests"`
}

// The kstatus status that means what an Argo CD health means.
func kstatusFor(health string, deleting bool) status.Status {
	switch {
	case deleting:
		return status.TerminatingStatus
	case health == "Healthy":
		return status.CurrentStatus
	case health == "Suspended":
		// kstatus has no paused state: it reads Ready, which the recorded objects had
		// for their generation before the pause.
		return status.CurrentStatus
	case health == "Degraded":
		return status.FailedStatus
	default:
		return status.InProgressStatus
	}
}

// Every recording reads the same in kstatus as in Argo CD: Current when Healthy (or Suspended), Failed
// (with the operator's message) when Degraded, InProgress when Progressing.
func TestKstatusAgreesWithTheArgoCDHealthOfEveryRecording(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(customizations, "*", "*", "health_test.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no health_test.yaml under %s (%v)", customizations, err)
	}
	seen := map[status.Status]int{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases healthTests
		if err := yaml.Unmarshal(data, &cases); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(file)
		for _, c := range cases.Tests {
			name, _ := filepath.Rel(customizations, filepath.Join(dir, c.InputPath))
			t.Run(name, func(t *testing.T) {
				f, err := os.Open(filepath.Join(dir, c.InputPath))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				objects, err := readObjects(f)
				if err != nil || len(objects) != 1 {
					t.Fatalf("want one object: %d, %v", len(objects), err)
				}
				obj := objects[0]
				result, err := status.Compute(obj)
				if err != nil {
					t.Fatal(err)
				}
				want, excepted := exceptions[name]
				if !excepted {
					want = kstatusFor(c.HealthStatus.Status, obj.GetDeletionTimestamp() != nil)
				}
				if result.Status != want {
					t.Fatalf("kstatus %s (%s), but Argo CD health %s (%s) means %s",
						result.Status, result.Message, c.HealthStatus.Status, c.HealthStatus.Message, want)
				}
				if want == status.FailedStatus && !strings.HasSuffix(c.HealthStatus.Message, result.Message) {
					t.Fatalf("kstatus says %q, Argo CD %q", result.Message, c.HealthStatus.Message)
				}
				seen[result.Status]++
			})
		}
	}
	for _, s := range []status.Status{status.CurrentStatus, status.InProgressStatus, status.FailedStatus, status.TerminatingStatus} {
		if seen[s] == 0 {
			t.Errorf("no recording is %s", s)
		}
	}
}

// The command reads what kubectl prints: a List, several documents, YAML or JSON.
func TestReadObjectsExpandsListsAndDocuments(t *testing.T) {
	input := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "kvs-operator.dev/v1alpha1", "kind": "VideoStream", "metadata": {"name": "a", "generation": 2}},
  {"apiVersion": "kvs-operator.dev/v1alpha1", "kind": "VideoStream", "metadata": {"name": "b"}}]}
---
apiVersion: kvs-operator.dev/v1alpha1
kind: VideoStream
metadata: {name: c, namespace: cameras}
`
	objects, err := readObjects(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, obj := range objects {
		names = append(names, obj.GetNamespace()+"/"+obj.GetName())
	}
	if strings.Join(names, " ") != "/a /b cameras/c" {
		t.Fatalf("got %v", names)
	}
	if objects[0].GetGeneration() != 2 {
		t.Fatalf("generation %d: integers must stay int64 for kstatus", objects[0].GetGeneration())
	}
}
