package actions

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/amibake/terraform-provider-amibake/internal/awsx"
)

// systemTagPrefix marks the tags cleanup and crash recovery rely on; a user's
// tag may not replace them.
const systemTagPrefix = "amibake:"

// mergeTags adds the run's tags to given ones: a user's own value wins over a
// default tag, except for the run's system tags.
func mergeTags(given []ec2types.Tag, run map[string]string) []ec2types.Tag {
	out := slices.Clone(given)
	idx := map[string]int{}
	for i, t := range out {
		idx[aws.ToString(t.Key)] = i
	}
	for _, t := range awsx.EC2Tags(run) {
		k := aws.ToString(t.Key)
		if i, ok := idx[k]; ok {
			if strings.HasPrefix(k, systemTagPrefix) {
				out[i] = t
			}
			continue
		}
		out = append(out, t)
	}
	return out
}

// withRunTags returns specs with the run's tags merged into the spec of each
// resource type in types, adding a spec for a type that has none.
func withRunTags(specs []ec2types.TagSpecification, run map[string]string, types ...ec2types.ResourceType) []ec2types.TagSpecification {
	out := slices.Clone(specs)
	for _, rt := range types {
		found := false
		for i := range out {
			if out[i].ResourceType == rt {
				out[i].Tags = mergeTags(out[i].Tags, run)
				found = true
			}
		}
		if !found && len(run) > 0 {
			out = append(out, ec2types.TagSpecification{ResourceType: rt, Tags: awsx.EC2Tags(run)})
		}
	}
	return out
}
