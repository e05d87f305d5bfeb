package document

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// An AMI name, as EC2 takes it in CreateImage (and RegisterImage; CopyImage
// makes an image by the same rules): "Constraints: 3-128 alphanumeric
// characters, parentheses (()), square brackets ([]), spaces ( ), periods (.),
// slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_)"
// (Amazon EC2 API Reference, CreateImage, request parameter Name:
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html).
const (
	MinImageNameLength = 3
	MaxImageNameLength = 128
)

// ImageNameActions are the actions whose ImageName input names a new AMI.
var ImageNameActions = []string{"aws:copyImage", "aws:createImage"}

func imageNameChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("()[] ./-'@_", r)
}

// CheckImageName reports why EC2 would refuse name as the name of a new AMI,
// or returns nil. The message quotes the name clipped, and names the first
// character refused.
func CheckImageName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n < MinImageNameLength:
		return fmt.Errorf("AMI name %s is %d characters long; EC2 takes %d to %d", QuoteValue(name), n, MinImageNameLength, MaxImageNameLength)
	case n > MaxImageNameLength:
		return fmt.Errorf("AMI name %s is %d characters long; EC2 takes %d to %d", QuoteValue(name), n, MinImageNameLength, MaxImageNameLength)
	}
	if msg := imageNameCharsProblem(name); msg != "" {
		return fmt.Errorf("AMI name %s %s", QuoteValue(name), msg)
	}
	return nil
}

// badImageNameRune finds the first character EC2 refuses in an AMI name, and
// its 1-based position.
func badImageNameRune(text string) (rune, int, bool) {
	for i, r := range text {
		if !imageNameChar(r) {
			return r, utf8.RuneCountInString(text[:i]) + 1, true
		}
	}
	return 0, 0, false
}

const imageNameChars = "it takes letters, digits, spaces and ( ) [ ] . / - ' @ _"

func imageNameCharsProblem(text string) string {
	if r, pos, bad := badImageNameRune(text); bad {
		return fmt.Sprintf("has %q at position %d, which EC2 refuses in an AMI name; %s", r, pos, imageNameChars)
	}
	return ""
}

// imageName checks the ImageName of an aws:createImage or aws:copyImage step as
// far as it is known before the run: the whole name when it is literal, the
// text around its templates otherwise (a character EC2 refuses there stays
// whatever the templates become).
func imageName(c *stepCtx) {
	name, ok := c.step.Inputs["ImageName"].(string)
	if !ok {
		return
	}
	path := []string{"inputs", "ImageName"}
	if !HasTemplate(name) {
		if err := CheckImageName(name); err != nil {
			c.problem(path, "%s", err)
		}
		return
	}
	spans, err := scanTemplates(name)
	if err != nil {
		return // reported with the templates
	}
	var literal strings.Builder
	at := 0
	for _, sp := range spans {
		literal.WriteString(name[at:sp.start])
		at = sp.end
	}
	literal.WriteString(name[at:])
	if r, _, bad := badImageNameRune(literal.String()); bad {
		c.problem(path, "ImageName %s has %q outside its templates, which EC2 refuses in an AMI name whatever the templates become; %s",
			QuoteValue(name), r, imageNameChars)
		return
	}
	if n := utf8.RuneCountInString(literal.String()); n > MaxImageNameLength {
		c.problem(path, "ImageName %s: the text around its templates is already %d characters long; EC2 takes at most %d", QuoteValue(name), n, MaxImageNameLength)
	}
}
