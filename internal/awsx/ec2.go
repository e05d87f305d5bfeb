package awsx

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// InRegion points an EC2 call at region when it is another than the clients'
// own; none when region is empty.
func InRegion(c *Clients, region string) []func(*ec2.Options) {
	if region == "" || region == c.Region {
		return nil
	}
	return []func(*ec2.Options){func(o *ec2.Options) { o.Region = region }}
}

// EC2Tags turns a tag map into EC2 tags in key order.
func EC2Tags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
