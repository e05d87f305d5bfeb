# Adopting an existing AMI with an import block that names its resource
# identity (Terraform 1.12 or later, OpenTofu 1.12 or later). account_id and
# region default to the provider's; an image of another account is refused,
# and one of another Region is imported through a provider for that Region.
# Older CLIs: `terraform import amibake_image.golden ami-0123456789abcdef0`.
terraform {
  required_version = ">= 1.12.0"
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}

import {
  to = amibake_image.golden
  identity = {
    account_id = "123456789012"
    region     = "us-east-1"
    image_id   = "ami-0123456789abcdef0"
  }
}

resource "amibake_image" "golden" {
  step {
    name = "launch"
    run_instances {
      image_id                  = "ami-12c6146b"
      instance_type             = "t3.micro"
      iam_instance_profile_name = "amibake-builder"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "golden-{{ global:DATE_TIME }}"
    }
  }
  step {
    name = "terminate"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "terminated"
    }
  }
}
