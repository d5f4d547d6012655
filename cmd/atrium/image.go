package main

// atrium image …: container images registered as assets.

import (
	"github.com/spf13/cobra"

	"atrium/httpapi"
)

var imageCLI = &assetCLI{
	use: "image", noun: "image", aliases: []string{"images"}, kind: httpapi.KindImages,
	short: "Register, list and publish container images",
	long: `Images of the selected workspace: a name and an imageUri, with labels such
as framework, cudaVersion and pythonVersion to find them by.`,
	example: `  atrium image create pytorch-2.4 --image-uri registry.example.com/ai/pytorch:2.4-cuda12 -l framework=PyTorch -l cudaVersion=12.1`,
	fields: []assetFlag{
		{flag: "image-uri", field: "imageUri", usage: "the image reference, registry/repository:tag", required: true},
	},
	columns: []string{"imageUri"},
}

func newImageCmd(c *cli) *cobra.Command { return newAssetCmd(c, imageCLI) }
