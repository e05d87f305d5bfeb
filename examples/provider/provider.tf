terraform {
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}

# Credentials and region come from the usual places (AWS_* environment variables,
# shared config profiles, instance roles), exactly as for the hashicorp/aws provider.
provider "amibake" {
  region = "eu-west-1"

  default_tags {
    tags = {
      team = "platform"
    }
  }
}
