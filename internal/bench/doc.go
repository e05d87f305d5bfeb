// Package bench measures how much time and how many API calls the provider
// adds to a bake, in a simulated cloud (internal/testsupport/simcloud) and through the
// Terraform CLI against moto_server, side by side with the wait policies of
// Packer and terraform-provider-aws. Run it with `make bench`; the tests only
// report, they assert nothing about time.
package bench
