package main

// atrium dataset …: datasets and their versions.

import (
	"github.com/spf13/cobra"

	"atrium/httpapi"
)

var datasetCLI = &assetCLI{
	use: "dataset", noun: "dataset", aliases: []string{"datasets", "ds"}, kind: httpapi.KindDatasets,
	short: "Create, list, publish and version datasets",
	long: `Datasets of the selected workspace: a name, dataType (COMMON, PIC, TEXT,
VIDEO, AUDIO), property (DIRECTORY or FILE) and a uri (oss://, nas://, s3://,
hdfs://, file://…), with versions v1, v2… each with its own uri of the same
data source type. A dataset is PRIVATE to its owner (and Admins) until
'atrium dataset publish' makes it PUBLIC, which is never undone. Labeling
datasets (--source-type LABELING, LabelManager or Admin) name the dataset
version they label.`,
	example: `  atrium dataset create imagenet --uri oss://bucket/imagenet/ --data-type PIC -l team=cv
  atrium dataset version create d-4kq2m7xw3a --uri oss://bucket/imagenet/v1 --data-count 1281167
  atrium dataset publish d-4kq2m7xw3a`,
	fields: []assetFlag{
		{flag: "uri", field: "uri", usage: "where the data lives: oss://, nas://, s3://, hdfs://, file://…", required: true},
		{flag: "data-type", field: "dataType", usage: "COMMON (default), PIC, TEXT, VIDEO or AUDIO"},
		{flag: "property", field: "property", usage: "DIRECTORY (default) or FILE"},
		{flag: "source-type", field: "sourceType", usage: "USER (default) or LABELING"},
		{flag: "source-dataset", field: "sourceDatasetId", usage: "labeling datasets: the dataset labelled"},
		{flag: "source-version", field: "sourceDatasetVersion", usage: "labeling datasets: the version labelled"},
	},
	columns: []string{"dataType", "dataSourceType", "uri"},
	versions: &versionCLI{
		fields: []assetFlag{
			{flag: "uri", field: "uri", usage: "where this version lives (same data source type as the dataset); never changes"},
			{flag: "data-count", field: "dataCount", usage: "number of items", integer: true},
			{flag: "data-size", field: "dataSize", usage: "size in bytes", integer: true},
		},
		columns: []string{"uri", "dataCount", "dataSize"},
		example: `  atrium dataset version create d-4kq2m7xw3a --uri oss://bucket/imagenet/v2 --data-count 2000`,
	},
}

func newDatasetCmd(c *cli) *cobra.Command { return newAssetCmd(c, datasetCLI) }
