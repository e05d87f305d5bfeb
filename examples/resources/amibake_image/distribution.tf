# Bake once, then copy to two more Regions (one encrypted with that Region's
# key), share with an account and an OU, deprecate after 90 days and protect
# from deregistration. Every change here is made in place, without a rebake.
resource "amibake_image" "shared" {
  step {
    name = "launch"
    run_instances {
      image_id                  = "ami-0123456789abcdef0"
      instance_type             = "t3.micro"
      iam_instance_profile_name = "amibake-builder"
    }
  }
  step {
    name = "stop"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "stopped"
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "shared-{{global:DATE_TIME}}"
    }
  }

  tags = {
    Name = "shared"
  }

  distribution {
    region {
      region = "eu-central-1"
    }
    region {
      region     = "us-west-2"
      kms_key_id = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    }

    launch_permission {
      account_ids              = ["111122223333"]
      organizational_unit_arns = ["arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefgh34"]
    }
    share_snapshots = true

    deprecate_after = "90d"

    deregistration_protection {
      enabled = true
    }
  }

  # Launch templates keep using the old image: do not deregister it on
  # replacement or destroy.
  deregister_on_destroy = false
}

output "shared_ami_by_region" {
  value = amibake_image.shared.region_image_ids
}
