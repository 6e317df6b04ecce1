// The health checks of deploy/argocd/resource_customizations, installed the way
// docs/argocd.md tells users (argocd-cm.yaml merged into the argocd-cm that Argo CD's own
// install manifests create) and assessed the way Argo CD's application controller assesses a
// live object: argocd-cm parsed by Argo CD's settings manager, the script run by its Lua VM
// in the argocd-cm sandbox, the result passed through gitops-engine's resource health.
//
// deploy/argocd/test.sh runs this file inside a copy of the published argo-cd module
// (util/lua), beside Argo CD's own TestLuaHealthScript, so it uses Argo CD's code itself.
package lua_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	jsonpatch "github.com/evanphx/json-patch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

// Set by deploy/argocd/test.sh.
var (
	customizationsDir = os.Getenv("KVS_CUSTOMIZATIONS") // deploy/argocd/resource_customizations
	configMapPatch    = os.Getenv("KVS_ARGOCD_CM")      // deploy/argocd/argocd-cm.yaml
	installManifest   = os.Getenv("KVS_ARGOCD_INSTALL") // manifests/core-install.yaml of the module
	argocdBinary      = os.Getenv("KVS_ARGOCD_BIN")     // the argocd CLI hack/argocd.sh built
)

const healthKeyPrefix = "resource.customizations.health."

// One kind's health check in Argo CD's resource_customizations layout.
type customization struct {
	group, kind, dir string
}

func (c customization) configMapKey() string { return healthKeyPrefix + c.group + "_" + c.kind }

func customizations(t *testing.T) []customization {
	t.Helper()
	if customizationsDir == "" || configMapPatch == "" || installManifest == "" {
		t.Fatal("run through deploy/argocd/test.sh: KVS_CUSTOMIZATIONS, KVS_ARGOCD_CM and KVS_ARGOCD_INSTALL are unset")
	}
	scripts, err := filepath.Glob(filepath.Join(customizationsDir, "*", "*", "health.lua"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no */*/health.lua under %s (%v)", customizationsDir, err)
	}
	var out []customization
	for _, script := range scripts {
		dir := filepath.Dir(script)
		out = append(out, customization{group: filepath.Base(filepath.Dir(dir)), kind: filepath.Base(dir), dir: dir})
	}
	return out
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The argocd-cm of a fresh Argo CD install with our patch merged in, as
// `kubectl -n argocd patch configmap argocd-cm --type merge --patch-file argocd-cm.yaml` does.
func patchedConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	var installed *corev1.ConfigMap
	for _, document := range strings.Split(string(read(t, installManifest)), "\n---") {
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(document), &cm); err == nil && cm.Kind == "ConfigMap" && cm.Name == "argocd-cm" {
			installed = &cm
		}
	}
	if installed == nil {
		t.Fatalf("no argocd-cm in %s", installManifest)
	}
	installed.Namespace = "argocd"
	original, err := json.Marshal(installed)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := yaml.YAMLToJSON(read(t, configMapPatch))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := jsonpatch.MergePatch(original, patch)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(merged, &cm); err != nil {
		t.Fatal(err)
	}
	return &cm
}

// The resource overrides Argo CD's settings manager reads from that argocd-cm.
func overridesFromConfigMap(t *testing.T, cm *corev1.ConfigMap) map[string]appv1.ResourceOverride {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: "argocd", Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}},
		Data:       map[string][]byte{"server.secretkey": []byte("test")},
	}
	manager := settings.NewSettingsManager(context.Background(), fake.NewClientset(cm, secret), "argocd")
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		t.Fatal(err)
	}
	return overrides
}

type healthTests struct {
	Tests []struct {
		InputPath    string               `json:"inputPath"`
		HealthStatus *health.HealthStatus `json:"healthStatus"`
	} `json:"tests"`
}

// An object as the controller's cluster cache holds it (integers as int64), and as
// Argo CD's own tests read testdata (every number a float64).
func decodeBothWays(t *testing.T, path string) map[string]*unstructured.Unstructured {
	t.Helper()
	data, err := yaml.YAMLToJSON(read(t, path))
	if err != nil {
		t.Fatal(err)
	}
	live, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
	if err != nil {
		t.Fatal(err)
	}
	var floats map[string]any
	if err := json.Unmarshal(data, &floats); err != nil {
		t.Fatal(err)
	}
	return map[string]*unstructured.Unstructured{
		"int64":   live.(*unstructured.Unstructured),
		"float64": {Object: floats},
	}
}

// The snippet users merge must carry each health.lua byte for byte, nothing else, and the
// label without which Argo CD ignores an argocd-cm.
func TestConfigMapPatchCarriesEveryHealthScript(t *testing.T) {
	var patch corev1.ConfigMap
	if err := yaml.Unmarshal(read(t, configMapPatch), &patch); err != nil {
		t.Fatal(err)
	}
	if patch.Name != "argocd-cm" || patch.Namespace != "argocd" || patch.Labels["app.kubernetes.io/part-of"] != "argocd" {
		t.Fatalf("not the argocd/argocd-cm ConfigMap with app.kubernetes.io/part-of=argocd: %+v", patch.ObjectMeta)
	}
	want := map[string]string{}
	for _, c := range customizations(t) {
		want[c.configMapKey()] = string(read(t, filepath.Join(c.dir, "health.lua")))
	}
	for key, script := range want {
		if patch.Data[key] != script {
			t.Errorf("%s in %s differs from the health.lua beside it: run deploy/argocd/test.sh --update-configmap", key, configMapPatch)
		}
	}
	for key := range patch.Data {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected key %s in %s", key, configMapPatch)
		}
	}
}

// Every case of every health_test.yaml, through argocd-cm and the controller's code path.
func TestHealthThroughArgoCDConfigMap(t *testing.T) {
	cm := patchedConfigMap(t)
	if _, kept := cm.Data["resource.customizations.ignoreResourceUpdates.all"]; !kept {
		t.Fatal("the merge patch lost the install's own argocd-cm settings")
	}
	overrides := overridesFromConfigMap(t, cm)
	for _, c := range customizations(t) {
		override, ok := overrides[c.group+"/"+c.kind]
		if !ok || override.HealthLua == "" {
			t.Fatalf("Argo CD read no health check for %s/%s from argocd-cm: %v", c.group, c.kind, overrides)
		}
		if override.UseOpenLibs {
			t.Fatalf("%s/%s: the check must run in the argocd-cm sandbox, without useOpenLibs", c.group, c.kind)
		}
		var cases healthTests
		if err := yaml.Unmarshal(read(t, filepath.Join(c.dir, "health_test.yaml")), &cases); err != nil {
			t.Fatal(err)
		}
		if len(cases.Tests) == 0 {
			t.Fatalf("%s/health_test.yaml has no tests", c.dir)
		}
		for _, tc := range cases.Tests {
			for numbers, obj := range decodeBothWays(t, filepath.Join(c.dir, tc.InputPath)) {
				t.Run(c.group+"/"+c.kind+"/"+tc.InputPath+"/"+numbers, func(t *testing.T) {
					got, err := health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
					if err != nil {
						t.Fatal(err)
					}
					// A terminating object shows the script's deletionMessage as its message.
					want := *tc.HealthStatus
					if obj.GetDeletionTimestamp() != nil && want.DeletionMessage != "" {
						want.Message = want.DeletionMessage
					}
					want.DeletionMessage = ""
					if got == nil || *got != want {
						t.Fatalf("got %+v, want %+v", got, want)
					}
				})
			}
		}
	}
}

// The check of docs/argocd.md's Install section, with the argocd CLI built from the same
// version: `argocd admin settings resource-overrides health FILE --argocd-cm-path CM`.
func TestDocsCommandGivesEveryCaseItsHealth(t *testing.T) {
	if argocdBinary == "" {
		t.Fatal("run through deploy/argocd/test.sh: KVS_ARGOCD_BIN is unset")
	}
	for _, c := range customizations(t) {
		var cases healthTests
		if err := yaml.Unmarshal(read(t, filepath.Join(c.dir, "health_test.yaml")), &cases); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases.Tests {
			t.Run(c.group+"/"+c.kind+"/"+tc.InputPath, func(t *testing.T) {
				out, err := exec.Command(argocdBinary, "admin", "settings", "resource-overrides", "health",
					filepath.Join(c.dir, tc.InputPath), "--argocd-cm-path", configMapPatch).CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				want := *tc.HealthStatus
				if want.DeletionMessage != "" {
					want.Message = want.DeletionMessage
				}
				for _, line := range []string{"STATUS: " + string(want.Status), "MESSAGE: " + want.Message} {
					if !strings.Contains(string(out)+"\n", "\n"+line+"\n") {
						t.Fatalf("no line %q in:\n%s", line, out)
					}
				}
			})
		}
	}
}

// Objects the operator never writes: the check must still answer, never fail (Argo CD
// would show Unknown with a Lua error).
func TestHealthOfUnusualObjects(t *testing.T) {
	overrides := lua.ResourceHealthOverrides(overridesFromConfigMap(t, patchedConfigMap(t)))
	cases := []struct{ name, object, status, message string }{
		{"no status", `{}`, "Progressing", "Waiting for the operator to reconcile this VideoStream"},
		{"status not an object", `{"metadata": {"generation": 1}, "status": "odd"}`, "Progressing", "Waiting for the operator to reconcile this VideoStream"},
		{"conditions not a list", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": "odd"}}`, "Progressing", "Waiting for the operator to reconcile this VideoStream"},
		{"condition not an object", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": ["odd"]}}`, "Progressing", "Waiting for the operator to reconcile this VideoStream"},
		{"no observedGeneration", `{"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}}`, "Progressing", "Waiting for the operator to reconcile generation 1"},
		{"no generation", `{"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}}`, "Healthy", "ok"},
		{"Ready without message", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}}`, "Healthy", "Available"},
		{"Stalled without message", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Stalled", "status": "True"}]}}`, "Degraded", "Stalled"},
		{"only Reconciling", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Reconciling", "status": "True", "reason": "Creating", "message": "creating"}]}}`, "Progressing", "Creating: creating"},
		{"generations as strings beyond 9", `{"metadata": {"generation": "10"}, "status": {"observedGeneration": "9", "conditions": [{"type": "Ready", "status": "True"}]}}`, "Progressing", "Waiting for the operator to reconcile generation 10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := json.Unmarshal([]byte(c.object), &obj.Object); err != nil {
				t.Fatal(err)
			}
			obj.SetAPIVersion("kvs-operator.dev/v1alpha1")
			obj.SetKind("VideoStream")
			got, err := health.GetResourceHealth(obj, overrides)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || string(got.Status) != c.status || got.Message != c.message {
				t.Fatalf("got %+v, want %s %q", got, c.status, c.message)
			}
		})
	}
}

// The sandbox these tests rely on is real: through the same argocd-cm path, a script that
// reaches for the string library fails, as it would in Argo CD.
func TestConfigMapScriptsRunWithoutTheStringLibrary(t *testing.T) {
	cm := patchedConfigMap(t)
	cm.Data[healthKeyPrefix+"kvs-operator.dev_VideoStream"] = `return {status = string.upper("healthy"), message = "m"}`
	overrides := lua.ResourceHealthOverrides(overridesFromConfigMap(t, cm))
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kvs-operator.dev/v1alpha1", "kind": "VideoStream"}}
	if got, err := health.GetResourceHealth(obj, overrides); err == nil {
		t.Fatalf("a script using the string library ran in the argocd-cm sandbox: %+v", got)
	}
}
