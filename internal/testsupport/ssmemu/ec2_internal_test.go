package ssmemu

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestAddImageState(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	doc := `<?xml version="1.0" encoding="utf-8"?>
<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><imagesSet>` +
		`<item><blockDeviceMapping><item><deviceName>/dev/sda1</deviceName></item></blockDeviceMapping><imageId>ami-1</imageId>` +
		`<deprecationTime>1999-01-01T00:00:00.000Z</deprecationTime><name>one</name></item>` +
		`<item><imageId>ami-2</imageId><deregistrationProtection>enabled</deregistrationProtection><name>two</name></item>` +
		`<item><imageId>ami-3</imageId></item>` +
		`</imagesSet><requestId>r</requestId></DescribeImagesResponse>`
	states := map[string]imageState{
		"ami-1": {deprecateAt: now.Add(time.Hour), protection: protectionEnabled},
		"ami-3": {cooldownUntil: now.Add(time.Minute)},
	}
	out, err := addImageState([]byte(doc), states, now)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Items []struct {
			ImageID     string   `xml:"imageId"`
			Name        string   `xml:"name"`
			Deprecation []string `xml:"deprecationTime"`
			Protection  []string `xml:"deregistrationProtection"`
			Devices     []string `xml:"blockDeviceMapping>item>deviceName"`
		} `xml:"imagesSet>item"`
		RequestID string `xml:"requestId"`
	}
	if err := xml.Unmarshal(out, &parsed); err != nil {
		t.Fatalf("the rewritten answer is not XML: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, it := range parsed.Items {
		got[it.ImageID] = it.Name + "|" + strings.Join(it.Deprecation, ",") + "|" + strings.Join(it.Protection, ",") + "|" + strings.Join(it.Devices, ",")
	}
	want := map[string]string{
		"ami-1": "one|2030-01-02T04:04:00.000Z|enabled-without-cooldown|/dev/sda1",
		"ami-2": "two||disabled|",
		"ami-3": "||disabled after 2030-01-02T03:05:00.000Z|",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if len(parsed.Items) != 3 || parsed.RequestID != "r" {
		t.Errorf("items %d, requestId %q\n%s", len(parsed.Items), parsed.RequestID, out)
	}
	if !strings.HasPrefix(string(out), `<?xml version="1.0" encoding="utf-8"?>`+"\n<DescribeImagesResponse") {
		t.Errorf("the document's head changed:\n%s", out)
	}
}

func TestCredentialScope(t *testing.T) {
	for _, c := range []struct {
		header, key, region, service string
		ok                           bool
	}{
		{"AWS4-HMAC-SHA256 Credential=AKID/20261128/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature=abc", "AKID", "eu-west-1", "ec2", true},
		{"AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/ssm/aws4_request,SignedHeaders=host,Signature=abc", "test", "us-east-1", "ssm", true},
		{"AWS4-HMAC-SHA256 Credential=short/scope, Signature=abc", "", "", "", false},
		{"", "", "", "", false},
	} {
		key, region, service, ok := credentialScope(c.header)
		if key != c.key || region != c.region || service != c.service || ok != c.ok {
			t.Errorf("credentialScope(%q) = %q %q %q %v", c.header, key, region, service, ok)
		}
	}
}

func TestAddEncryption(t *testing.T) {
	keys := map[string]string{"snap-1": "arn:aws:kms:eu-west-1:123456789012:key/k"}
	images := `<DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><blockDeviceMapping>` +
		`<item><ebs><snapshotId>snap-1</snapshotId><encrypted>false</encrypted></ebs></item>` +
		`<item><ebs><snapshotId>snap-2</snapshotId></ebs></item>` +
		`<item><ebs><snapshotId>snap-3</snapshotId><encrypted>true</encrypted></ebs></item>` +
		`<item><virtualName>ephemeral0</virtualName></item>` +
		`</blockDeviceMapping></item></imagesSet></DescribeImagesResponse>`
	out, err := addImageEncryption([]byte(images), keys)
	if err != nil {
		t.Fatal(err)
	}
	want := `<DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><blockDeviceMapping>` +
		`<item><ebs><snapshotId>snap-1</snapshotId><encrypted>true</encrypted></ebs></item>` +
		`<item><ebs><snapshotId>snap-2</snapshotId><encrypted>false</encrypted></ebs></item>` +
		`<item><ebs><snapshotId>snap-3</snapshotId><encrypted>true</encrypted></ebs></item>` +
		`<item><virtualName>ephemeral0</virtualName></item>` +
		`</blockDeviceMapping></item></imagesSet></DescribeImagesResponse>`
	if string(out) != want {
		t.Errorf("DescribeImages rewritten to\n%s\nwant\n%s", out, want)
	}

	snapshots := `<DescribeSnapshotsResponse><snapshotSet>` +
		`<item><snapshotId>snap-1</snapshotId><encrypted>false</encrypted></item>` +
		`<item><snapshotId>snap-2</snapshotId><encrypted>false</encrypted></item>` +
		`</snapshotSet></DescribeSnapshotsResponse>`
	out, err = addSnapshotEncryption([]byte(snapshots), keys)
	if err != nil {
		t.Fatal(err)
	}
	want = `<DescribeSnapshotsResponse><snapshotSet>` +
		`<item><snapshotId>snap-1</snapshotId><encrypted>true</encrypted><kmsKeyId>arn:aws:kms:eu-west-1:123456789012:key/k</kmsKeyId></item>` +
		`<item><snapshotId>snap-2</snapshotId><encrypted>false</encrypted></item>` +
		`</snapshotSet></DescribeSnapshotsResponse>`
	if string(out) != want {
		t.Errorf("DescribeSnapshots rewritten to\n%s\nwant\n%s", out, want)
	}
}
