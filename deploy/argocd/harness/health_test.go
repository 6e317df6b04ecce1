// Runs deploy/argocd/videostream-health.lua in gopher-lua, the Lua VM Argo CD embeds, set up
// the way Argo CD sets it up for a health script from argocd-cm, against the recorded
// VideoStreams in deploy/argocd/testdata.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

const (
	scriptPath    = "../videostream-health.lua"
	configMapPath = "../argocd-cm.yaml"
	fixtureGlob   = "../testdata/*.yaml"
	configMapKey  = "resource.customizations.health.kvs-operator.dev_VideoStream"
)

// The statuses Argo CD accepts from a health script; anything else becomes Unknown.
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// Failure reasons by error class, as src/error.rs defines them.
var (
	retryableReasons  = []string{"Throttled", "ResourceInUse", "VersionConflict", "NotFound", "AWSUnavailable", "AWSError", "KubernetesError"}
	terminalReasons   = []string{"InvalidSpec", "LimitExceeded", "NotOwned", "Immutable", "ConfigError"}
	permissionReasons = []string{"AccessDenied"}
)

// How the Lua state is prepared.
type vmMode struct {
	name string
	// Only the libraries Argo CD opens for a script from argocd-cm (package, base, table),
	// instead of every standard library (Argo CD's useOpenLibs and built-in scripts).
	sandbox bool
	// Reading or writing an undefined global raises an error: catches a script that
	// reaches for a library the sandbox does not have, or leaks a global.
	strict bool
}

var vmModes = []vmMode{
	{name: "argocd-cm", sandbox: true},
	{name: "argocd-cm-strict", sandbox: true, strict: true},
	{name: "open-libs", sandbox: false, strict: true},
}

// How numbers of the object reach Lua. Argo CD hands the script what the cluster cache
// holds: int64 for integers read from the API server, float64 after a JSON round trip,
// and json.Number becomes a Lua string. The script must behave the same in all three.
type numberMode string

const (
	numbersInt64      numberMode = "int64"
	numbersFloat64    numberMode = "float64"
	numbersJSONNumber numberMode = "json.Number"
)

var numberModes = []numberMode{numbersInt64, numbersFloat64, numbersJSONNumber}

type health struct {
	Status  string
	Message string
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

// parseObject reads one YAML document the way kubectl would, keeping numbers exact.
func parseObject(t *testing.T, document []byte) map[string]any {
	t.Helper()
	raw, err := yaml.YAMLToJSON(document)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var obj map[string]any
	if err := decoder.Decode(&obj); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	return obj
}

// withNumbers returns a deep copy of v with every json.Number converted for mode.
func withNumbers(v any, mode numberMode) any {
	switch value := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(value))
		for key, item := range value {
			out[key] = withNumbers(item, mode)
		}
		return out
	case []any:
		out := make([]any, len(value))
		for i, item := range value {
			out[i] = withNumbers(item, mode)
		}
		return out
	case json.Number:
		switch mode {
		case numbersInt64:
			if n, err := value.Int64(); err == nil {
				return n
			}
			f, _ := value.Float64()
			return f
		case numbersFloat64:
			f, _ := value.Float64()
			return f
		}
		return value
	}
	return v
}

// toLua converts a decoded object to Lua values as Argo CD's controller does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch value := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(value)
	case string:
		return lua.LString(value)
	case json.Number:
		return lua.LString(value)
	case int64:
		return lua.LNumber(value)
	case float64:
		return lua.LNumber(value)
	case []any:
		table := L.CreateTable(len(value), 0)
		for _, item := range value {
			table.Append(toLua(L, item))
		}
		return table
	case map[string]any:
		table := L.CreateTable(0, len(value))
		for key, item := range value {
			table.RawSetString(key, toLua(L, item))
		}
		return table
	}
	panic(fmt.Sprintf("unexpected %T in a decoded object", v))
}

// runHealth runs script against obj the way Argo CD runs a health script, and reads the
// result the way Argo CD does: the value left on top of the stack must be a table whose
// status is a valid health status.
func runHealth(script string, obj map[string]any, mode vmMode) (health, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: mode.sandbox})
	defer L.Close()
	if mode.sandbox {
		for _, lib := range []struct {
			name string
			open lua.LGFunction
		}{
			{lua.LoadLibName, lua.OpenPackage},
			{lua.BaseLibName, lua.OpenBase},
			{lua.TabLibName, lua.OpenTable},
		} {
			if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
				return health{}, fmt.Errorf("open %s: %w", lib.name, err)
			}
		}
	}
	// Argo CD gives a script one second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	if mode.strict {
		guard := L.NewTable()
		L.SetField(guard, "__index", L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("the script reads the undefined global %q", L.CheckString(2))
			return 0
		}))
		L.SetField(guard, "__newindex", L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("the script assigns the global %q", L.CheckString(2))
			return 0
		}))
		L.SetMetatable(L.Get(lua.GlobalsIndex), guard)
	}
	if err := L.DoString(script); err != nil {
		return health{}, err
	}
	table, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("the script returned a %s, not a table", L.Get(-1).Type())
	}
	var result health
	var problems []string
	table.ForEach(func(key, value lua.LValue) {
		name, isString := key.(lua.LString)
		text, valueIsString := value.(lua.LString)
		switch {
		case !isString:
			problems = append(problems, fmt.Sprintf("non-string key %v", key))
		case !valueIsString:
			problems = append(problems, fmt.Sprintf("%s is a %s", name, value.Type()))
		case name == "status":
			result.Status = string(text)
		case name == "message":
			result.Message = string(text)
		default:
			problems = append(problems, fmt.Sprintf("unexpected key %s", name))
		}
	})
	if len(problems) > 0 {
		return health{}, fmt.Errorf("malformed result: %s", strings.Join(problems, "; "))
	}
	if !validStatuses[result.Status] {
		return health{}, fmt.Errorf("invalid health status %q (Argo CD would show Unknown)", result.Status)
	}
	if result.Message == "" {
		return health{}, fmt.Errorf("status %s without a message", result.Status)
	}
	return result, nil
}

// assess runs the script in every VM and number mode and requires one answer.
func assess(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	var first *health
	for _, vm := range vmModes {
		for _, numbers := range numberModes {
			got, err := runHealth(script, withNumbers(obj, numbers).(map[string]any), vm)
			if err != nil {
				t.Fatalf("[%s, numbers as %s] %v", vm.name, numbers, err)
			}
			if first == nil {
				first = &got
			} else if got != *first {
				t.Fatalf("[%s, numbers as %s] %+v, but %+v in another mode", vm.name, numbers, got, *first)
			}
		}
	}
	return *first
}

type fixture struct {
	name    string
	object  map[string]any
	status  string
	message string
}

// loadFixtures reads every recorded VideoStream with the health its header comments expect:
//
//	# expect-health: <status>
//	# expect-message: <substring of the message>
func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	paths, err := filepath.Glob(fixtureGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no fixtures match %s", fixtureGlob)
	}
	sort.Strings(paths)
	var fixtures []fixture
	for _, path := range paths {
		text := readFile(t, path)
		f := fixture{name: strings.TrimSuffix(filepath.Base(path), ".yaml")}
		for _, line := range strings.Split(text, "\n") {
			if value, ok := strings.CutPrefix(line, "# expect-health: "); ok {
				f.status = strings.TrimSpace(value)
			}
			if value, ok := strings.CutPrefix(line, "# expect-message: "); ok {
				f.message = strings.TrimSpace(value)
			}
		}
		if f.status == "" || f.message == "" {
			t.Fatalf("%s: needs both '# expect-health:' and '# expect-message:' header lines", path)
		}
		if strings.Contains(text, "\n---") {
			t.Fatalf("%s: one VideoStream per fixture", path)
		}
		f.object = parseObject(t, []byte(text))
		if f.object["kind"] != "VideoStream" || f.object["apiVersion"] != "kvs-operator.dev/v1alpha1" {
			t.Fatalf("%s: not a kvs-operator.dev/v1alpha1 VideoStream", path)
		}
		fixtures = append(fixtures, f)
	}
	return fixtures
}

func TestRecordedVideoStreams(t *testing.T) {
	script := readFile(t, scriptPath)
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			got := assess(t, script, f.object)
			if got.Status != f.status || !strings.Contains(got.Message, f.message) {
				t.Fatalf("got %s %q, want %s with a message containing %q", got.Status, got.Message, f.status, f.message)
			}
			t.Logf("%s: %s", got.Status, got.Message)
		})
	}
}

func TestFixturesCoverTheStatusesTheScriptReturns(t *testing.T) {
	seen := map[string]int{}
	for _, f := range loadFixtures(t) {
		seen[f.status]++
	}
	for _, status := range []string{"Healthy", "Progressing", "Degraded"} {
		if seen[status] == 0 {
			t.Errorf("no fixture expects %s", status)
		}
	}
	for _, status := range []string{"Suspended", "Missing", "Unknown"} {
		if seen[status] != 0 {
			t.Errorf("a fixture expects %s, which the script never returns", status)
		}
	}
}

// The argocd-cm snippet must carry exactly the tested script.
func TestConfigMapSnippetCarriesTheScript(t *testing.T) {
	script := readFile(t, scriptPath)
	raw, err := yaml.YAMLToJSON([]byte(readFile(t, configMapPath)))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" || cm.Metadata.Namespace != "argocd" {
		t.Fatalf("not the argocd/argocd-cm ConfigMap: %s %s %s/%s", cm.APIVersion, cm.Kind, cm.Metadata.Namespace, cm.Metadata.Name)
	}
	// Argo CD only reads an argocd-cm that carries this label.
	if cm.Metadata.Labels["app.kubernetes.io/part-of"] != "argocd" {
		t.Errorf("argocd-cm lacks the label app.kubernetes.io/part-of: argocd")
	}
	embedded, ok := cm.Data[configMapKey]
	if !ok {
		t.Fatalf("argocd-cm has no %s", configMapKey)
	}
	if embedded != script {
		t.Fatalf("the script in %s differs from %s; paste the file again", configMapPath, scriptPath)
	}
	for key := range cm.Data {
		if key != configMapKey {
			t.Errorf("unexpected key %s: the snippet should only add the health check", key)
		}
	}
}

// A copy of ready.yaml with the Synced condition (and, for a first failure, Ready too)
// replaced by a failure with reason.
func failed(t *testing.T, reason string, alsoReady bool) map[string]any {
	t.Helper()
	obj := parseObject(t, []byte(readFile(t, "../testdata/ready.yaml")))
	status := obj["status"].(map[string]any)
	for _, c := range status["conditions"].([]any) {
		condition := c.(map[string]any)
		if condition["type"] == "Synced" || alsoReady {
			condition["status"] = "False"
			condition["reason"] = reason
			condition["message"] = "details of " + reason
		}
	}
	return obj
}

func TestEveryFailureReason(t *testing.T) {
	script := readFile(t, scriptPath)
	cases := []struct {
		reasons []string
		// Health when only Synced failed and Ready=True still holds for this generation,
		// and when both conditions carry the failure (a first reconcile that failed).
		whileReady, whenFirst string
	}{
		{retryableReasons, "Healthy", "Progressing"},
		{terminalReasons, "Degraded", "Degraded"},
		{permissionReasons, "Degraded", "Degraded"},
		// A reason this script does not know (a newer operator): not assumed to heal.
		{[]string{"SomethingNew"}, "Degraded", "Degraded"},
	}
	for _, c := range cases {
		for _, reason := range c.reasons {
			t.Run(reason, func(t *testing.T) {
				got := assess(t, script, failed(t, reason, false))
				if got.Status != c.whileReady || !strings.Contains(got.Message, "details of "+reason) {
					t.Errorf("Synced=False %s while Ready: got %+v, want %s", reason, got, c.whileReady)
				}
				got = assess(t, script, failed(t, reason, true))
				if got.Status != c.whenFirst || !strings.Contains(got.Message, reason+": details of "+reason) {
					t.Errorf("Ready=Synced=False %s: got %+v, want %s", reason, got, c.whenFirst)
				}
			})
		}
	}
}

// Shapes the operator does not write itself but a script must survive: it is never allowed
// to fail (Argo CD would show an error instead of a health).
func TestUnusualObjects(t *testing.T) {
	script := readFile(t, scriptPath)
	cases := []struct {
		name, object, status, message string
	}{
		{"empty object", `{}`, "Progressing", "Waiting for the operator"},
		{"empty status", `{"metadata": {"generation": 1}, "status": {}}`, "Progressing", "Waiting for the operator"},
		{"status not an object", `{"metadata": {"generation": 1}, "status": "odd"}`, "Progressing", "Waiting for the operator"},
		{"conditions not a list", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": "odd"}}`, "Progressing", "Waiting for the operator"},
		{"condition not an object", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": ["odd"]}}`, "Progressing", "Waiting for the operator"},
		{"deleted before any status", `{"metadata": {"generation": 2, "deletionTimestamp": "2026-03-02T12:00:00Z"}}`, "Progressing", "Being deleted: waiting for the operator to clean up"},
		{"no observedGeneration", `{"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Available", "message": "ok"}]}}`, "Progressing", "Waiting for the operator to reconcile generation 1"},
		{"no generation", `{"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Available", "message": "ok"}]}}`, "Healthy", "ok"},
		{"Ready without message", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "reason": "Available"}]}}`, "Healthy", "Available"},
		{"Ready with an empty message", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "message": ""}]}}`, "Healthy", "Available"},
		{"Deleting without message", `{"metadata": {"generation": 2, "deletionTimestamp": "2026-03-02T12:00:00Z"}, "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False", "reason": "Deleting"}]}}`, "Progressing", "Being deleted: deleting the stream"},
		{"Synced without reason", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "False"}]}}`, "Degraded", "Unknown"},
		{"only Synced", `{"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [{"type": "Synced", "status": "True", "reason": "ReconcileSuccess"}]}}`, "Progressing", "Waiting for the operator to report readiness"},
		{"Ready=True of an older generation", `{"metadata": {"generation": 3}, "status": {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "observedGeneration": 2}, {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "observedGeneration": 3}]}}`, "Progressing", "Waiting for the operator to apply generation 3"},
		{"deleting, Ready not Deleting", `{"metadata": {"generation": 2, "deletionTimestamp": "2026-03-02T12:00:00Z"}, "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "observedGeneration": 1}, {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "observedGeneration": 2}]}}`, "Progressing", "Being deleted: waiting for the operator to clean up"},
		{"generation as a string beyond 9", `{"metadata": {"generation": "10"}, "status": {"observedGeneration": "9", "conditions": [{"type": "Ready", "status": "True", "reason": "Available", "observedGeneration": "9"}]}}`, "Progressing", "generation 10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := assess(t, script, parseObject(t, []byte(c.object)))
			if got.Status != c.status || !strings.Contains(got.Message, c.message) {
				t.Fatalf("got %+v, want %s with %q", got, c.status, c.message)
			}
		})
	}
}

// The harness itself must catch what it is there to catch.
func TestHarnessRejectsWhatArgoCDWouldNot(t *testing.T) {
	obj := parseObject(t, []byte(`{"metadata": {"generation": 1}}`))
	sandbox := vmModes[0]
	strict := vmModes[1]
	bad := []struct {
		name, script string
		mode         vmMode
	}{
		{"string library", `return {status = string.upper("healthy"), message = "m"}`, sandbox},
		{"string methods", `local s = "Healthy"; return {status = s:sub(1), message = "m"}`, sandbox},
		{"math library", `return {status = "Healthy", message = tostring(math.max(1, 2))}`, sandbox},
		{"io library", `io.write("x"); return {status = "Healthy", message = "m"}`, sandbox},
		{"global leak", `hs = {status = "Healthy", message = "m"}; return hs`, strict},
		{"invalid status", `return {status = "Fine", message = "m"}`, sandbox},
		{"not a table", `return "Healthy"`, sandbox},
		{"runaway loop", `while true do end`, sandbox},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if got, err := runHealth(c.script, obj, c.mode); err == nil {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
	if _, err := runHealth(`return {status = string.upper("healthy"):sub(1, 1) .. "ealthy", message = "m"}`, obj, vmMode{name: "open"}); err != nil {
		t.Fatalf("the open-libs mode must have the string library: %v", err)
	}
}

// The sample Application must stay a valid-looking Application that does not prune.
func TestSampleApplication(t *testing.T) {
	raw, err := yaml.YAMLToJSON([]byte(readFile(t, "../application.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Project string `json:"project"`
			Source  struct {
				RepoURL, TargetRevision, Path string
			} `json:"source"`
			Destination struct {
				Server, Namespace string
			} `json:"destination"`
			SyncPolicy struct {
				Automated *struct {
					Prune    *bool `json:"prune"`
					SelfHeal bool  `json:"selfHeal"`
				} `json:"automated"`
			} `json:"syncPolicy"`
		} `json:"spec"`
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	if err := decoder.Decode(&app); err != nil {
		t.Fatal(err)
	}
	if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" || app.Metadata.Namespace != "argocd" {
		t.Fatalf("not an Argo CD Application: %s %s in %q", app.APIVersion, app.Kind, app.Metadata.Namespace)
	}
	s := app.Spec
	if s.Project == "" || s.Source.RepoURL == "" || s.Source.Path == "" || s.Destination.Server == "" || s.Destination.Namespace == "" {
		t.Fatalf("incomplete Application spec: %+v", s)
	}
	if a := s.SyncPolicy.Automated; a == nil || a.Prune == nil || *a.Prune {
		t.Fatalf("the sample must state prune: false (pruning a VideoStream deletes its stream and video)")
	}
}
