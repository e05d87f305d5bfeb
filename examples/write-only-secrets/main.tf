# A secret that never reaches the state or a plan: sensitive_parameters_wo is
# write-only (Terraform 1.11 or later, OpenTofu 1.11 or later). Older CLIs use
# sensitive_parameters, whose values the state keeps.
terraform {
  required_version = ">= 1.11.0"
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}

# Ephemeral: the value is not kept in plan files either. Give it again to
# `terraform apply` of a saved plan (TF_VAR_license_key).
variable "license_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

# Bump to bake again with a new license_key: Terraform keeps no value to compare.
variable "license_key_version" {
  type    = number
  default = 1
}

resource "amibake_image" "licensed" {
  parameter {
    name = "LicenseKey"
    type = "String"
  }

  step {
    name = "launch"
    run_instances {
      image_id                  = "ami-12c6146b"
      instance_type             = "t3.micro"
      iam_instance_profile_name = "amibake-builder"
    }
  }
  # The key goes to a SecureString parameter that the instance reads with its
  # own role: a command's parameters are readable by others and may not hold it.
  step {
    name = "storeKey"
    execute_aws_api {
      service = "ssm"
      api     = "PutParameter"
      api_inputs = jsonencode({
        Name      = "/golden/license-key"
        Type      = "SecureString"
        Value     = "{{ LicenseKey }}"
        Overwrite = true
      })
    }
  }
  step {
    name = "install"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters = {
        commands = [
          "aws ssm get-parameter --with-decryption --name /golden/license-key --query Parameter.Value --output text > /etc/app/license",
        ]
      }
    }
  }
  step {
    name = "image"
    create_image {
      instance_id = "{{ launch.InstanceIds }}"
      image_name  = "licensed-{{ global:DATE_TIME }}"
    }
  }
  step {
    name       = "terminate"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["{{ launch.InstanceIds }}"]
      desired_state = "terminated"
    }
  }

  sensitive_parameters_wo         = { LicenseKey = var.license_key }
  sensitive_parameters_wo_version = var.license_key_version
}
