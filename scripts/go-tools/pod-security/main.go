// Command pod-security evaluates Kubernetes objects against the Pod Security Standards with the
// evaluator of the Pod Security admission controller itself (k8s.io/pod-security-admission at the
// release of KUBERNETES_BINARIES_VERSION in versions.env), built by scripts/install-tools.sh.
//
// Usage: pod-security [-version latest|v1.N] < objects
//
// stdin holds JSON or YAML documents (several YAML documents separated by ---, a stream of JSON
// objects, or List objects with items). Every object that carries a pod spec is evaluated: a Pod, a
// PodTemplate, a workload's pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
// ReplicationController) or a CronJob's job template; other objects are passed over. stdout is one JSON
// array with, per evaluated object and level, the checks that forbid it (reason and detail, the words
// the admission controller answers with). An empty list means the level admits the object.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

type forbidden struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

type result struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Index of the object in the input (Lists' items counted one by one), for callers that send
	// objects without names.
	Index  int                    `json:"index"`
	Levels map[string][]forbidden `json:"levels"`
}

// object is the part of any Kubernetes object that can lead to a pod spec.
type object struct {
	Kind     string            `json:"kind"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     json.RawMessage   `json:"spec"`
	Template json.RawMessage   `json:"template"`
	Items    []json.RawMessage `json:"items"`
}

type podTemplate struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     json.RawMessage   `json:"spec"`
}

// strict decodes JSON refusing unknown fields: a misspelt field would otherwise be dropped and the
// pod judged without it.
func strict(data []byte, into any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	return decoder.Decode(into)
}

// unmarshal leaves `into` empty for an absent field (a workload without a spec has an empty pod).
func unmarshal(data json.RawMessage, into any) error {
	if len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, into)
}

// podOf returns the pod template of an object, or ok=false for an object that has none.
func podOf(o object) (meta metav1.ObjectMeta, spec json.RawMessage, ok bool, err error) {
	var template podTemplate
	switch o.Kind {
	case "Pod":
		return o.Metadata, o.Spec, true, nil
	case "PodTemplate":
		err = unmarshal(o.Template, &template)
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController":
		var spec struct {
			Template podTemplate `json:"template"`
		}
		err = unmarshal(o.Spec, &spec)
		template = spec.Template
	case "CronJob":
		var spec struct {
			JobTemplate struct {
				Spec struct {
					Template podTemplate `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		}
		err = unmarshal(o.Spec, &spec)
		template = spec.JobTemplate.Spec.Template
	default:
		return meta, nil, false, nil
	}
	return template.Metadata, template.Spec, true, err
}

type evaluation struct {
	evaluator policy.Evaluator
	version   api.Version
	results   []result
	index     int
}

func (e *evaluation) add(raw json.RawMessage) error {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	if strings.HasSuffix(o.Kind, "List") {
		for _, item := range o.Items {
			if err := e.add(item); err != nil {
				return err
			}
		}
		return nil
	}
	index := e.index
	e.index++
	meta, rawSpec, ok, err := podOf(o)
	if err != nil || !ok {
		return err
	}
	var spec corev1.PodSpec
	if len(rawSpec) > 0 {
		if err := strict(rawSpec, &spec); err != nil {
			return fmt.Errorf("%s %q: pod spec: %w", o.Kind, o.Metadata.Name, err)
		}
	}
	r := result{Kind: o.Kind, Namespace: o.Metadata.Namespace, Name: o.Metadata.Name, Index: index,
		Levels: map[string][]forbidden{}}
	for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
		found := []forbidden{}
		checks := e.evaluator.EvaluatePod(api.LevelVersion{Level: level, Version: e.version}, &meta, &spec)
		for _, check := range checks {
			if !check.Allowed {
				found = append(found, forbidden{Reason: check.ForbiddenReason, Detail: check.ForbiddenDetail})
			}
		}
		r.Levels[string(level)] = found
	}
	e.results = append(e.results, r)
	return nil
}

func run(stdin io.Reader, stdout io.Writer, args []string) error {
	flags := flag.NewFlagSet("pod-security", flag.ContinueOnError)
	versionFlag := flags.String("version", "latest", "version of the policies: latest or v1.N")
	if err := flags.Parse(args); err != nil {
		return err
	}
	version, err := api.ParseVersion(*versionFlag)
	if err != nil {
		return err
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return err
	}
	e := &evaluation{evaluator: evaluator, version: version, results: []result{}}
	decoder := yaml.NewYAMLOrJSONDecoder(stdin, 4096)
	for document := 1; ; document++ {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("document %d: %w", document, err)
		}
		// An empty YAML document (a lone --- or a template that rendered nothing).
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		if err := e.add(raw); err != nil {
			return fmt.Errorf("document %d: %w", document, err)
		}
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	return out.Encode(e.results)
}

func main() {
	if err := run(os.Stdin, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pod-security:", err)
		os.Exit(1)
	}
}
