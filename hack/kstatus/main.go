// Command kstatus prints the status that kstatus computes for Kubernetes objects: the
// library sigs.k8s.io/cli-utils/pkg/kstatus/status, with which Flux, kpt and Config Sync
// decide whether an applied object is reconciled. One line per object:
//
//	<namespace>/<name>	<status>	<message>
//
// where status is InProgress, Current, Failed, Terminating or Unknown.
//
//	kstatus [FILE...]    YAML or JSON files, several documents each, or a List such as
//	                     `kubectl get -o json` prints; "-" or nothing reads stdin
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	files := os.Args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, file := range files {
		if err := printFile(out, file); err != nil {
			out.Flush()
			fmt.Fprintf(os.Stderr, "kstatus: %s: %v\n", file, err)
			os.Exit(1)
		}
	}
}

func printFile(out io.Writer, file string) error {
	var input io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		input = f
	}
	objects, err := readObjects(input)
	if err != nil {
		return err
	}
	for _, obj := range objects {
		result, err := status.Compute(obj)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
		}
		fmt.Fprintf(out, "%s/%s\t%s\t%s\n", obj.GetNamespace(), obj.GetName(), result.Status, result.Message)
	}
	return nil
}

// readObjects decodes every document as the API server's JSON decoder does (integers stay
// int64, which kstatus requires of generations), expanding Lists.
func readObjects(input io.Reader) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(input))
	var objects []*unstructured.Unstructured
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := utilyaml.ToJSON(document)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
			continue
		}
		decoded, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
		if err != nil {
			return nil, err
		}
		switch obj := decoded.(type) {
		case *unstructured.Unstructured:
			objects = append(objects, obj)
		case *unstructured.UnstructuredList:
			for i := range obj.Items {
				objects = append(objects, &obj.Items[i])
			}
		default:
			return nil, fmt.Errorf("unexpected %T", decoded)
		}
	}
}
