package ssmemu

// EC2 operations moto_server lacks or gets wrong, answered in front of it.
//
// EC2 speaks the Query protocol: a form-encoded POST whose Action names the
// operation, answered in XML; errors are HTTP 4xx with a Response/Errors body.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
//
// The emulator answers EnableImageDeprecation, DisableImageDeprecation,
// EnableImageDeregistrationProtection and DisableImageDeregistrationProtection
// itself (moto answers HTTP 500), keeping the state per Region and image; it
// adds that state to moto's DescribeImages answers (and answers
// DescribeImageAttribute deregistrationProtection), refuses DeregisterImage of
// a protected image, makes the copies CopyImage encrypts encrypted (moto
// copies them in the clear), and turns ModifySnapshotAttribute's
// CreateVolumePermission.Add/Remove (which moto ignores) into the
// OperationType form moto understands. Every other EC2 request goes to moto
// unchanged. The Region of a request is the one its SigV4 credential scope
// names, as moto keeps Regions apart by it too.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"
)

const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Deregistration protection states as DescribeImages and the Enable/Disable
// operations spell them (the AWS CLI examples of
// enable-image-deregistration-protection and
// disable-image-deregistration-protection show "enabled-without-cooldown"
// and "disabled"; "enabled-with-cooldown" is the cooldown variant). While a
// cooldown runs the image shows "disabled after <time>": AWS's reference does
// not spell that value out; this is the form tools written against AWS parse
// (prefix "disabled after ").
const (
	protectionDisabled     = "disabled"
	protectionEnabled      = "enabled-without-cooldown"
	protectionWithCooldown = "enabled-with-cooldown"
	protectionCooldownPfx  = "disabled after "
)

// ProtectionCooldown is how long an image stays protected after
// DisableImageDeregistrationProtection when its protection was enabled with
// WithCooldown.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html
const ProtectionCooldown = 24 * time.Hour

// ec2Time is how EC2 writes timestamps in DescribeImages (creationDate,
// deprecationTime): UTC with milliseconds.
const ec2Time = "2006-01-02T15:04:05.000Z"

// regionalID names an image or snapshot in a Region.
type regionalID struct{ region, id string }

// imageState is what the emulator holds for one image in one Region.
type imageState struct {
	deprecateAt   time.Time // zero: no deprecation scheduled
	protection    string    // "", protectionEnabled or protectionWithCooldown
	cooldownUntil time.Time // protection disabled with a cooldown running
}

func (s *imageState) protectedAt(now time.Time) bool {
	return s.protection != "" || now.Before(s.cooldownUntil)
}

// protectionValue is the deregistrationProtection of DescribeImages.
func (s *imageState) protectionValue(now time.Time) string {
	switch {
	case s == nil:
		return protectionDisabled
	case s.protection != "":
		return s.protection
	case now.Before(s.cooldownUntil):
		return protectionCooldownPfx + s.cooldownUntil.UTC().Format(ec2Time)
	}
	return protectionDisabled
}

func (s *imageState) empty(now time.Time) bool {
	return s.deprecateAt.IsZero() && s.protection == "" && !now.Before(s.cooldownUntil)
}

// ec2Images is the per-Region, per-image state, and the KMS key ARN of each
// snapshot the emulator knows to be encrypted.
type ec2Images struct {
	mu        sync.Mutex
	images    map[regionalID]*imageState
	snapshots map[regionalID]string
}

// ec2Caller is who sent an EC2 request: the Region and access key of its
// credential scope. The emulator's own calls to moto use both, so that they
// see the caller's account and Region.
type ec2Caller struct {
	region    string
	accessKey string
}

// credentialScope reads "Credential=AKID/DATE/REGION/SERVICE/aws4_request"
// from a SigV4 Authorization header.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
func credentialScope(authorization string) (accessKey, region, service string, ok bool) {
	_, rest, found := strings.Cut(authorization, "Credential=")
	if !found {
		return "", "", "", false
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return "", "", "", false
	}
	return parts[0], parts[2], parts[3], true
}

// ec2Error is an EC2 error response.
type ec2Error struct {
	Status  int
	Code    string
	Message string
}

func (e *ec2Error) Error() string { return e.Code + ": " + e.Message }

func ec2Errorf(code, format string, args ...any) *ec2Error {
	return &ec2Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// EC2 error codes used here, as the common client error codes page names
// them.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
const (
	ec2MissingParameter      = "MissingParameter"
	ec2InvalidParameterValue = "InvalidParameterValue"
	ec2OperationNotPermitted = "OperationNotPermitted"
	ec2DryRunOperation       = "DryRunOperation"
	ec2InternalError         = "InternalError"
	ec2InvalidParamCombo     = "InvalidParameterCombination"
)

func writeEC2Error(w http.ResponseWriter, e *ec2Error) {
	type xmlError struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	body := struct {
		XMLName   xml.Name   `xml:"Response"`
		Errors    []xmlError `xml:"Errors>Error"`
		RequestID string     `xml:"RequestID"`
	}{Errors: []xmlError{{e.Code, e.Message}}, RequestID: uuid.NewString()}
	out, _ := xml.Marshal(body)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.Status)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// writeEC2Return answers an operation whose only response element is
// return.
func writeEC2Return(w http.ResponseWriter, action, value string) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s"><requestId>%s</requestId><return>`, action, ec2Namespace, uuid.NewString())
	_ = xml.EscapeText(&b, []byte(value))
	fmt.Fprintf(&b, "</return></%sResponse>", action)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

type ec2Handler func(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller)

func (e *Emulator) ec2Handlers() map[string]ec2Handler {
	return map[string]ec2Handler{
		"EnableImageDeprecation":               e.enableImageDeprecation,
		"DisableImageDeprecation":              e.disableImageDeprecation,
		"EnableImageDeregistrationProtection":  e.enableImageProtection,
		"DisableImageDeregistrationProtection": e.disableImageProtection,
		"DeregisterImage":                      e.deregisterImage,
		"DescribeImages":                       e.describeImages,
		"ModifySnapshotAttribute":              e.modifySnapshotAttribute,
		"CopyImage":                            e.copyImage,
		"DescribeImageAttribute":               e.describeImageAttribute,
		"DescribeSnapshots":                    e.describeSnapshots,
	}
}

// serveEC2 answers the EC2 requests the emulator handles and reports whether
// it took the request; it leaves every other request untouched.
func (e *Emulator) serveEC2(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return false
	}
	key, region, service, ok := credentialScope(r.Header.Get("Authorization"))
	if !ok || service != "ec2" {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body.Close()
	if err != nil || len(body) > maxBody {
		writeEC2Error(w, ec2Errorf(ec2InvalidParameterValue, "the request body could not be read or is over %d bytes", maxBody))
		return true
	}
	// Whatever happens next, a forwarded request carries the body as sent.
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return e.forward(w, r)
	}
	handler, ours := e.ec2Ops[form.Get("Action")]
	if !ours {
		return e.forward(w, r)
	}
	handler(w, r, form, ec2Caller{region: region, accessKey: key})
	return true
}

func (e *Emulator) forward(w http.ResponseWriter, r *http.Request) bool {
	e.proxy.ServeHTTP(w, r)
	return true
}

// motoOptions points the emulator's EC2 client at the caller's Region and
// account.
func (c ec2Caller) motoOptions(o *ec2.Options) {
	o.Region = c.region
	if c.accessKey != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(c.accessKey, "test", "")
	}
}

// asEC2Error keeps an error moto answered (code and message as moto wrote
// them) and makes any other failure an InternalError.
func asEC2Error(err error) *ec2Error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ec2Errorf(ae.ErrorCode(), "%s", ae.ErrorMessage())
	}
	return &ec2Error{Status: http.StatusInternalServerError, Code: ec2InternalError, Message: err.Error()}
}

// image asks moto for an image in the caller's Region: moto answers
// InvalidAMIID.NotFound (or .Malformed) as AWS does for an image it does not
// have.
func (e *Emulator) image(ctx context.Context, c ec2Caller, id string) (*ec2types.Image, *ec2Error) {
	out, err := e.motoEC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}}, c.motoOptions)
	if err != nil {
		return nil, asEC2Error(err)
	}
	if len(out.Images) == 0 {
		return nil, ec2Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return &out.Images[0], nil
}

// imageRequest reads ImageId, checks the image exists in moto and answers a
// DryRun; it writes the error and returns nil when the request stops here.
func (e *Emulator) imageRequest(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) *ec2types.Image {
	id := form.Get("ImageId")
	if id == "" {
		writeEC2Error(w, ec2Errorf(ec2MissingParameter, "The request must contain the parameter ImageId"))
		return nil
	}
	img, ee := e.image(r.Context(), c, id)
	if ee != nil {
		writeEC2Error(w, ee)
		return nil
	}
	// DryRun: "If you have the required permissions, the error response is
	// DryRunOperation" (every operation's DryRun parameter); moto enforces
	// no IAM, so the caller always has them.
	if dry, _ := strconv.ParseBool(form.Get("DryRun")); dry {
		writeEC2Error(w, &ec2Error{Status: http.StatusPreconditionFailed, Code: ec2DryRunOperation,
			Message: "Request would have succeeded, but DryRun flag is set."})
		return nil
	}
	return img
}

// update changes the state of one image under the lock and drops it when
// nothing is left to remember.
func (e *Emulator) updateImage(k regionalID, f func(*imageState)) imageState {
	now := e.cfg.Now()
	e.ec2State.mu.Lock()
	defer e.ec2State.mu.Unlock()
	s := e.ec2State.images[k]
	if s == nil {
		s = &imageState{}
	}
	f(s)
	if s.empty(now) {
		delete(e.ec2State.images, k)
	} else {
		e.ec2State.images[k] = s
	}
	return *s
}

func (e *Emulator) imageStates(region string) map[string]imageState {
	e.ec2State.mu.Lock()
	defer e.ec2State.mu.Unlock()
	out := map[string]imageState{}
	for k, s := range e.ec2State.images {
		if k.region == region {
			out[k.id] = *s
		}
	}
	return out
}

// enableImageDeprecation follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeprecation.html:
// DeprecateAt is required, seconds are rounded to the nearest minute, it
// cannot be in the past, and it is at most 10 years from now (2 years from
// the image's creation for a public image).
func (e *Emulator) enableImageDeprecation(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	raw := form.Get("DeprecateAt")
	if raw == "" {
		writeEC2Error(w, ec2Errorf(ec2MissingParameter, "The request must contain the parameter DeprecateAt"))
		return
	}
	at, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		writeEC2Error(w, ec2Errorf(ec2InvalidParameterValue, "Value (%s) for parameter DeprecateAt is invalid. Expected format YYYY-MM-DDTHH:MM:SSZ.", raw))
		return
	}
	img := e.imageRequest(w, r, form, c)
	if img == nil {
		return
	}
	now := e.cfg.Now()
	at = at.UTC().Round(time.Minute)
	if at.Before(now) {
		writeEC2Error(w, ec2Errorf(ec2InvalidParameterValue, "The deprecation time %s is in the past; you can't specify a date in the past.", at.Format(ec2Time)))
		return
	}
	limit, what := now.AddDate(10, 0, 0), "10 years from now"
	if aws.ToBool(img.Public) {
		if created, err := time.Parse(time.RFC3339Nano, aws.ToString(img.CreationDate)); err == nil {
			limit, what = created.AddDate(2, 0, 0), "2 years from the creation date of a public AMI"
		}
	}
	if at.After(limit) {
		writeEC2Error(w, ec2Errorf(ec2InvalidParameterValue, "The deprecation time %s is too far in the future; the upper limit is %s (%s).", at.Format(ec2Time), what, limit.UTC().Format(ec2Time)))
		return
	}
	e.updateImage(regionalID{c.region, *img.ImageId}, func(s *imageState) { s.deprecateAt = at })
	e.logf("ec2 %s: image %s deprecates at %s", c.region, *img.ImageId, at.Format(ec2Time))
	writeEC2Return(w, "EnableImageDeprecation", "true")
}

// disableImageDeprecation follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImageDeprecation.html.
func (e *Emulator) disableImageDeprecation(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	img := e.imageRequest(w, r, form, c)
	if img == nil {
		return
	}
	e.updateImage(regionalID{c.region, *img.ImageId}, func(s *imageState) { s.deprecateAt = time.Time{} })
	writeEC2Return(w, "DisableImageDeprecation", "true")
}

// enableImageProtection follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html:
// WithCooldown keeps the image protected for 24 hours after protection is
// disabled. Enabling ends a cooldown that was running.
func (e *Emulator) enableImageProtection(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	img := e.imageRequest(w, r, form, c)
	if img == nil {
		return
	}
	withCooldown, _ := strconv.ParseBool(form.Get("WithCooldown"))
	value := protectionEnabled
	if withCooldown {
		value = protectionWithCooldown
	}
	e.updateImage(regionalID{c.region, *img.ImageId}, func(s *imageState) {
		s.protection, s.cooldownUntil = value, time.Time{}
	})
	e.logf("ec2 %s: image %s deregistration protection %s", c.region, *img.ImageId, value)
	writeEC2Return(w, "EnableImageDeregistrationProtection", value)
}

// disableImageProtection follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImageDeregistrationProtection.html:
// protection enabled with a cooldown keeps refusing DeregisterImage for 24
// hours. The answer's return is the image's new deregistrationProtection.
func (e *Emulator) disableImageProtection(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	img := e.imageRequest(w, r, form, c)
	if img == nil {
		return
	}
	now := e.cfg.Now()
	s := e.updateImage(regionalID{c.region, *img.ImageId}, func(s *imageState) {
		if s.protection == protectionWithCooldown {
			s.cooldownUntil = now.Add(ProtectionCooldown)
		}
		s.protection = ""
	})
	value := s.protectionValue(now)
	e.logf("ec2 %s: image %s deregistration protection %s", c.region, *img.ImageId, value)
	writeEC2Return(w, "DisableImageDeregistrationProtection", value)
}

// deregisterImage refuses a protected image ("When deregistration protection
// is enabled, the AMI can't be deregistered",
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageDeregistrationProtection.html)
// and otherwise lets moto deregister it, forgetting the image's state when
// moto did. AWS's reference names no error code for the refusal; the
// emulator answers OperationNotPermitted, the common client error for an
// operation the resource's state does not allow.
func (e *Emulator) deregisterImage(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	id := form.Get("ImageId")
	now := e.cfg.Now()
	e.ec2State.mu.Lock()
	s, held := e.ec2State.images[regionalID{c.region, id}]
	var refusal *ec2Error
	if held && s.protectedAt(now) {
		refusal = ec2Errorf(ec2OperationNotPermitted,
			"The image %s cannot be deregistered: its deregistration protection is %s. Disable deregistration protection first (DisableImageDeregistrationProtection).",
			id, s.protectionValue(now))
	}
	e.ec2State.mu.Unlock()
	if refusal != nil {
		writeEC2Error(w, refusal)
		return
	}
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		e.ec2State.mu.Lock()
		delete(e.ec2State.images, regionalID{c.region, id})
		e.ec2State.mu.Unlock()
	}
	copyRecorded(w, rec, rec.Body.Bytes())
}

// describeImages adds deprecationTime and deregistrationProtection to the
// images of moto's answer, as AWS's Image shape carries them
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html).
// AWS reports deregistrationProtection for every image ("disabled" when it
// was never enabled), so every image gets one.
func (e *Emulator) describeImages(w http.ResponseWriter, r *http.Request, _ url.Values, c ec2Caller) {
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		out, err := addImageState(body, e.imageStates(c.region), e.cfg.Now())
		if err == nil {
			out, err = addImageEncryption(out, e.snapshotKeys(c.region))
		}
		if err == nil {
			body = out
		} else {
			e.logf("ec2 %s: DescribeImages answer left as moto wrote it: %v", c.region, err)
		}
	}
	copyRecorded(w, rec, body)
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

var (
	imagePath     = []string{"DescribeImagesResponse", "imagesSet", "item"}
	imageEBSPath  = []string{"DescribeImagesResponse", "imagesSet", "item", "blockDeviceMapping", "item", "ebs"}
	snapshotsPath = []string{"DescribeSnapshotsResponse", "snapshotSet", "item"}
)

// addImageState rewrites a DescribeImagesResponse: in each imagesSet/item it
// replaces any deprecationTime or deregistrationProtection with the
// emulator's.
func addImageState(doc []byte, states map[string]imageState, now time.Time) ([]byte, error) {
	return rewriteItems(doc, imagePath, func(child map[string]string) ([]string, string) {
		var add strings.Builder
		s, held := states[child["imageId"]]
		if held && !s.deprecateAt.IsZero() {
			fmt.Fprintf(&add, "<deprecationTime>%s</deprecationTime>", s.deprecateAt.UTC().Format(ec2Time))
		}
		var sp *imageState
		if held {
			sp = &s
		}
		fmt.Fprintf(&add, "<deregistrationProtection>%s</deregistrationProtection>", sp.protectionValue(now))
		return []string{"deprecationTime", "deregistrationProtection"}, add.String()
	})
}

// addImageEncryption sets encrypted in each EBS block device mapping of a
// DescribeImagesResponse whose snapshot the emulator knows to be encrypted,
// and adds encrypted false where moto wrote none, as AWS's EbsBlockDevice
// always carries it
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsBlockDevice.html;
// its KmsKeyId is not part of DescribeImages answers).
func addImageEncryption(doc []byte, keys map[string]string) ([]byte, error) {
	return rewriteItems(doc, imageEBSPath, func(child map[string]string) ([]string, string) {
		if _, enc := keys[child["snapshotId"]]; enc {
			return []string{"encrypted"}, "<encrypted>true</encrypted>"
		}
		if _, has := child["encrypted"]; !has && child["snapshotId"] != "" {
			return nil, "<encrypted>false</encrypted>"
		}
		return nil, ""
	})
}

// addSnapshotEncryption sets encrypted and kmsKeyId in the items of a
// DescribeSnapshotsResponse the emulator knows to be encrypted
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html).
func addSnapshotEncryption(doc []byte, keys map[string]string) ([]byte, error) {
	return rewriteItems(doc, snapshotsPath, func(child map[string]string) ([]string, string) {
		key, enc := keys[child["snapshotId"]]
		if !enc {
			return nil, ""
		}
		var b strings.Builder
		b.WriteString("<encrypted>true</encrypted><kmsKeyId>")
		_ = xml.EscapeText(&b, []byte(key))
		b.WriteString("</kmsKeyId>")
		return []string{"encrypted", "kmsKeyId"}, b.String()
	})
}

// rewriteItems rewrites the elements at path of an EC2 XML answer: for each
// one, edit gets the text of its direct children by name and says which
// children to drop and what XML to append inside it. Everything else stays
// byte for byte as it was.
func rewriteItems(doc []byte, path []string, edit func(child map[string]string) (drop []string, add string)) ([]byte, error) {
	type change struct {
		from, to int // bytes replaced
		text     string
	}
	type span struct{ from, to int }
	var (
		changes  []change
		stack    []string
		children map[string]string
		spans    map[string][]span
		opened   int // where the current direct child starts
	)
	at := func(depth int) bool { return depth == len(path) && slices.Equal(stack, path) }
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		before := int(d.InputOffset())
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			switch {
			case at(len(stack)):
				children, spans = map[string]string{}, map[string][]span{}
			case len(stack) == len(path)+1 && slices.Equal(stack[:len(path)], path):
				opened = before
				children[t.Name.Local] += ""
			}
		case xml.CharData:
			if len(stack) == len(path)+1 && slices.Equal(stack[:len(path)], path) {
				children[stack[len(path)]] += strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			switch {
			case at(len(stack)):
				drop, add := edit(children)
				for _, name := range drop {
					for _, sp := range spans[name] {
						changes = append(changes, change{sp.from, sp.to, ""})
					}
				}
				changes = append(changes, change{before, before, add})
			case len(stack) == len(path)+1 && slices.Equal(stack[:len(path)], path):
				name := stack[len(path)]
				spans[name] = append(spans[name], span{opened, int(d.InputOffset())})
			}
			stack = stack[:len(stack)-1]
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].from < changes[j].from })
	var out bytes.Buffer
	last := 0
	for _, c := range changes {
		out.Write(doc[last:c.from])
		out.WriteString(c.text)
		last = c.to
	}
	out.Write(doc[last:])
	return out.Bytes(), nil
}

// modifySnapshotAttribute: ModifySnapshotAttribute takes the volume
// permissions either as OperationType with UserId.N/UserGroup.N or as
// CreateVolumePermission.Add.N/Remove.N
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html,
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolumePermissionModifications.html).
// moto reads only the first form and answers success to the second while
// changing nothing; the emulator sends the second to moto in the first form.
func (e *Emulator) modifySnapshotAttribute(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	add := volumePermissions(form, "CreateVolumePermission.Add.")
	remove := volumePermissions(form, "CreateVolumePermission.Remove.")
	if len(add.users)+len(add.groups)+len(remove.users)+len(remove.groups) == 0 {
		e.proxy.ServeHTTP(w, r)
		return
	}
	if form.Get("OperationType") != "" || len(form["UserId.1"]) > 0 || len(form["UserGroup.1"]) > 0 {
		writeEC2Error(w, ec2Errorf(ec2InvalidParameterValue, "Specify the volume permissions either with CreateVolumePermission or with OperationType and UserId/UserGroup, not both."))
		return
	}
	id := form.Get("SnapshotId")
	if id == "" {
		writeEC2Error(w, ec2Errorf(ec2MissingParameter, "The request must contain the parameter SnapshotId"))
		return
	}
	if dry, _ := strconv.ParseBool(form.Get("DryRun")); dry {
		writeEC2Error(w, &ec2Error{Status: http.StatusPreconditionFailed, Code: ec2DryRunOperation,
			Message: "Request would have succeeded, but DryRun flag is set."})
		return
	}
	for _, op := range []struct {
		kind ec2types.OperationType
		p    permissionSet
	}{{ec2types.OperationTypeAdd, add}, {ec2types.OperationTypeRemove, remove}} {
		if len(op.p.users)+len(op.p.groups) == 0 {
			continue
		}
		_, err := e.motoEC2.ModifySnapshotAttribute(r.Context(), &ec2.ModifySnapshotAttributeInput{
			SnapshotId:    aws.String(id),
			Attribute:     ec2types.SnapshotAttributeNameCreateVolumePermission,
			OperationType: op.kind,
			UserIds:       op.p.users,
			GroupNames:    op.p.groups,
		}, c.motoOptions)
		if err != nil {
			writeEC2Error(w, asEC2Error(err))
			return
		}
	}
	writeEC2Return(w, "ModifySnapshotAttribute", "true")
}

type permissionSet struct{ users, groups []string }

// volumePermissions reads PREFIX.N.UserId and PREFIX.N.Group.
func volumePermissions(form url.Values, prefix string) permissionSet {
	var p permissionSet
	for n := 1; ; n++ {
		item := prefix + strconv.Itoa(n) + "."
		user, group := form.Get(item+"UserId"), form.Get(item+"Group")
		if user == "" && group == "" {
			return p
		}
		if user != "" {
			p.users = append(p.users, user)
		}
		if group != "" {
			p.groups = append(p.groups, group)
		}
	}
}

func (e *Emulator) snapshotKeys(region string) map[string]string {
	e.ec2State.mu.Lock()
	defer e.ec2State.mu.Unlock()
	out := map[string]string{}
	for k, key := range e.ec2State.snapshots {
		if k.region == region {
			out[k.id] = key
		}
	}
	return out
}

// defaultEBSKey is the alias of the AWS managed KMS key for Amazon EBS,
// which encrypts a copy when CopyImage names no key.
const defaultEBSKey = "alias/aws/ebs"

// copyImage follows
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CopyImage.html
// where moto does not: with Encrypted the copy's snapshots are encrypted
// with KmsKeyId ("If this parameter is not specified, your AWS managed KMS
// key for Amazon EBS is used. If you specify a KMS key, you must also set the
// encrypted state to true"), and "you cannot create an unencrypted copy of
// an encrypted snapshot". moto makes the copy; the emulator records its
// snapshots' key, as an ARN when moto's KMS knows the key (KmsKeyId may be a
// key id, alias, key ARN or alias ARN), as given otherwise: AWS parses the
// key asynchronously and fails the copy later, which the emulator does not
// model.
func (e *Emulator) copyImage(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	encrypted, _ := strconv.ParseBool(form.Get("Encrypted"))
	keyID := form.Get("KmsKeyId")
	if keyID != "" && !encrypted {
		writeEC2Error(w, ec2Errorf(ec2InvalidParamCombo, "KmsKeyId requires Encrypted: if you specify a KMS key, you must also set the encrypted state to true."))
		return
	}
	ctx := r.Context()
	srcRegion, srcID := form.Get("SourceRegion"), form.Get("SourceImageId")
	var srcKey string // the KMS key of an encrypted source
	if src, ee := e.image(ctx, ec2Caller{region: srcRegion, accessKey: c.accessKey}, srcID); ee == nil {
		keys := e.snapshotKeys(srcRegion)
		for _, m := range src.BlockDeviceMappings {
			if m.Ebs != nil && keys[aws.ToString(m.Ebs.SnapshotId)] != "" {
				srcKey = keys[aws.ToString(m.Ebs.SnapshotId)]
				break
			}
		}
	}
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, r)
	var out struct {
		ImageID string `xml:"imageId"`
	}
	if rec.Code == http.StatusOK && (encrypted || srcKey != "") && xml.Unmarshal(rec.Body.Bytes(), &out) == nil && out.ImageID != "" {
		key := srcKey
		switch {
		case keyID != "":
			key = e.kmsKeyARN(ctx, c, keyID)
		case srcKey == "" || srcRegion != c.region:
			// A key is Regional: a copy into another Region without
			// KmsKeyId takes that Region's default key.
			key = e.kmsKeyARN(ctx, c, defaultEBSKey)
		}
		if img, ee := e.image(ctx, c, out.ImageID); ee == nil {
			e.ec2State.mu.Lock()
			for _, m := range img.BlockDeviceMappings {
				if m.Ebs != nil && m.Ebs.SnapshotId != nil {
					e.ec2State.snapshots[regionalID{c.region, *m.Ebs.SnapshotId}] = key
				}
			}
			e.ec2State.mu.Unlock()
			e.logf("ec2 %s: image %s copied from %s in %s, encrypted with %s", c.region, out.ImageID, srcID, srcRegion, key)
		} else {
			e.logf("ec2 %s: the copy %s is not in moto: %v", c.region, out.ImageID, ee)
		}
	}
	copyRecorded(w, rec, rec.Body.Bytes())
}

// kmsKeyARN asks moto's KMS in the caller's Region for the ARN of a key id,
// alias, key ARN or alias ARN; it keeps keyID as given when moto does not
// know it.
func (e *Emulator) kmsKeyARN(ctx context.Context, c ec2Caller, keyID string) string {
	out, err := e.motoKMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)}, func(o *kms.Options) {
		o.Region = c.region
		if c.accessKey != "" {
			o.Credentials = credentials.NewStaticCredentialsProvider(c.accessKey, "test", "")
		}
	})
	if err != nil || out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
		return keyID
	}
	return *out.KeyMetadata.Arn
}

// describeSnapshots adds the encryption of the snapshots of encrypted copies
// to moto's answer.
func (e *Emulator) describeSnapshots(w http.ResponseWriter, r *http.Request, _ url.Values, c ec2Caller) {
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if keys := e.snapshotKeys(c.region); rec.Code == http.StatusOK && len(keys) > 0 {
		if out, err := addSnapshotEncryption(body, keys); err == nil {
			body = out
		} else {
			e.logf("ec2 %s: DescribeSnapshots answer left as moto wrote it: %v", c.region, err)
		}
	}
	copyRecorded(w, rec, body)
}

// describeImageAttribute answers the deregistrationProtection attribute
// (moto answers InvalidRequest) with the value DescribeImages shows, as an
// AttributeValue
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImageAttribute.html);
// moto answers the other attributes.
func (e *Emulator) describeImageAttribute(w http.ResponseWriter, r *http.Request, form url.Values, c ec2Caller) {
	if form.Get("Attribute") != "deregistrationProtection" {
		e.proxy.ServeHTTP(w, r)
		return
	}
	img := e.imageRequest(w, r, form, c)
	if img == nil {
		return
	}
	e.ec2State.mu.Lock()
	var value string
	if s, held := e.ec2State.images[regionalID{c.region, *img.ImageId}]; held {
		value = s.protectionValue(e.cfg.Now())
	} else {
		value = (*imageState)(nil).protectionValue(e.cfg.Now())
	}
	e.ec2State.mu.Unlock()
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<DescribeImageAttributeResponse xmlns="%s"><requestId>%s</requestId><imageId>`, ec2Namespace, uuid.NewString())
	_ = xml.EscapeText(&b, []byte(*img.ImageId))
	b.WriteString("</imageId><deregistrationProtection><value>")
	_ = xml.EscapeText(&b, []byte(value))
	b.WriteString("</value></deregistrationProtection></DescribeImageAttributeResponse>")
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}
