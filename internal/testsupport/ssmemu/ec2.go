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
// adds that state to moto's DescribeImages answers, refuses DeregisterImage of
// a protected image, and turns ModifySnapshotAttribute's
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
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

type imageKey struct{ region, imageID string }

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

// ec2Images is the per-Region, per-image state.
type ec2Images struct {
	mu     sync.Mutex
	images map[imageKey]*imageState
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
func (e *Emulator) updateImage(k imageKey, f func(*imageState)) imageState {
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
			out[k.imageID] = *s
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
	e.updateImage(imageKey{c.region, *img.ImageId}, func(s *imageState) { s.deprecateAt = at })
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
	e.updateImage(imageKey{c.region, *img.ImageId}, func(s *imageState) { s.deprecateAt = time.Time{} })
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
	e.updateImage(imageKey{c.region, *img.ImageId}, func(s *imageState) {
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
	s := e.updateImage(imageKey{c.region, *img.ImageId}, func(s *imageState) {
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
	s, held := e.ec2State.images[imageKey{c.region, id}]
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
		delete(e.ec2State.images, imageKey{c.region, id})
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
		if out, err := addImageState(body, e.imageStates(c.region), e.cfg.Now()); err == nil {
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

// addImageState rewrites a DescribeImagesResponse: in each
// imagesSet/item it drops any deprecationTime or deregistrationProtection
// and appends the emulator's. The rest of the document stays byte for byte
// as moto wrote it.
func addImageState(doc []byte, states map[string]imageState, now time.Time) ([]byte, error) {
	type edit struct {
		from, to int // bytes replaced
		text     string
	}
	var (
		edits   []edit
		path    []string
		imageID string
		skip    = -1 // depth of an element being dropped
		start   int  // where that element starts
	)
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
			path = append(path, t.Name.Local)
			if len(path) == 4 && isImageItem(path[:3]) && skip < 0 &&
				(t.Name.Local == "deprecationTime" || t.Name.Local == "deregistrationProtection") {
				skip, start = len(path), before
			}
			if len(path) == 3 && isImageItem(path) {
				imageID = ""
			}
		case xml.CharData:
			if len(path) == 4 && isImageItem(path[:3]) && path[3] == "imageId" {
				imageID += strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			if skip == len(path) {
				edits = append(edits, edit{start, int(d.InputOffset()), ""})
				skip = -1
			}
			if len(path) == 3 && isImageItem(path) {
				var add strings.Builder
				s, held := states[imageID]
				if held && !s.deprecateAt.IsZero() {
					fmt.Fprintf(&add, "<deprecationTime>%s</deprecationTime>", s.deprecateAt.UTC().Format(ec2Time))
				}
				var sp *imageState
				if held {
					sp = &s
				}
				fmt.Fprintf(&add, "<deregistrationProtection>%s</deregistrationProtection>", sp.protectionValue(now))
				edits = append(edits, edit{before, before, add.String()})
			}
			path = path[:len(path)-1]
		}
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].from < edits[j].from })
	var out bytes.Buffer
	last := 0
	for _, ed := range edits {
		out.Write(doc[last:ed.from])
		out.WriteString(ed.text)
		last = ed.to
	}
	out.Write(doc[last:])
	return out.Bytes(), nil
}

func isImageItem(path []string) bool {
	return len(path) == 3 && path[0] == "DescribeImagesResponse" && path[1] == "imagesSet" && path[2] == "item"
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
