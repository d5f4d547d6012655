package main

// atrium algorithm …: versioned component specs pipelines run.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"atrium/httpapi"
)

var algorithmCLI = &assetCLI{
	use: "algorithm", noun: "algorithm", aliases: []string{"algorithms", "algo"}, kind: httpapi.KindAlgorithms,
	short: "Create, list and version algorithm components",
	long: `Algorithms of the selected workspace. Each version is a component spec: an
image, a commandTemplate whose {{.param}} placeholders name declared params,
params {name, type string|int|float|bool, default, required}, and inputs and
outputs {name, type}.`,
	fields: []assetFlag{
		{flag: "provider", field: "provider", usage: "who maintains it"},
	},
	columns: []string{"provider"},
	versions: &versionCLI{
		named:   true,
		columns: []string{"image", "commandTemplate"},
		example: `  atrium algorithm version create algo-4kq2m7xw3a --image pytorch:2.4 \
      --command-template 'python train.py --lr {{.lr}}' --param lr:float=0.001 --input train:dataset --output model:model
  atrium algorithm version create algo-4kq2m7xw3a -f component.yaml`,
		extra: func(cmd *cobra.Command) func(s *session, body map[string]any) error {
			var (
				file, image, command   string
				params, inputs, output []string
			)
			f := cmd.Flags()
			f.StringVarP(&file, "file", "f", "", "the component spec in YAML or JSON (- for stdin)")
			f.StringVar(&image, "image", "", "the image it runs")
			f.StringVar(&command, "command-template", "", "the command, with {{.param}} placeholders")
			f.StringArrayVar(&params, "param", nil, "a param NAME:TYPE[=DEFAULT], TYPE string|int|float|bool; a trailing ! marks it required (repeatable)")
			f.StringArrayVar(&inputs, "input", nil, "an input NAME:TYPE (repeatable)")
			f.StringArrayVar(&output, "output", nil, "an output NAME:TYPE (repeatable)")
			return func(s *session, body map[string]any) error {
				if file != "" {
					b, err := readSpec(s.cmd, file)
					if err != nil {
						return err
					}
					j, err := yaml.YAMLToJSON(b)
					if err != nil {
						return fmt.Errorf("%s: %w", file, err)
					}
					if err := json.Unmarshal(j, &body); err != nil {
						return fmt.Errorf("%s: must hold an object: %w", file, err)
					}
				}
				if image != "" {
					body["image"] = image
				}
				if command != "" {
					body["commandTemplate"] = command
				}
				for _, p := range params {
					name, rest, ok := strings.Cut(p, ":")
					if !ok {
						return fmt.Errorf("--param %q: want NAME:TYPE[=DEFAULT]", p)
					}
					required := strings.HasSuffix(rest, "!")
					rest = strings.TrimSuffix(rest, "!")
					typ, def, hasDef := strings.Cut(rest, "=")
					one := map[string]any{"name": name, "type": typ, "required": required}
					if hasDef {
						var v any = def
						if typ != "string" {
							if err := json.Unmarshal([]byte(def), &v); err != nil {
								return fmt.Errorf("--param %q: default %q is not a %s", p, def, typ)
							}
						}
						one["default"] = v
					}
					list, _ := body["params"].([]any)
					body["params"] = append(list, one)
				}
				for flag, list := range map[string][]string{"inputs": inputs, "outputs": output} {
					for _, io := range list {
						name, typ, ok := strings.Cut(io, ":")
						if !ok {
							return fmt.Errorf("--%s %q: want NAME:TYPE", strings.TrimSuffix(flag, "s"), io)
						}
						l, _ := body[flag].([]any)
						body[flag] = append(l, map[string]any{"name": name, "type": typ})
					}
				}
				return nil
			}
		},
	},
}

func newAlgorithmCmd(c *cli) *cobra.Command { return newAssetCmd(c, algorithmCLI) }
