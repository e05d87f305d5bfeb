# A recipe written in HCL. Its canonical JSON can be published to SSM with
# aws_ssm_document, or baked by amibake_image.
resource "amibake_document" "update_linux" {
  description = "Update a Linux AMI"

  parameter {
    name        = "SourceAmiId"
    type        = "String"
    description = "AMI to update"
  }
  parameter {
    name    = "TargetAmiName"
    type    = "String"
    default = "linux-{{ SourceAmiId }}-{{global:DATE_TIME}}"
  }

  step {
    name = "launch"
    run_instances {
      image_id                  = "{{ SourceAmiId }}"
      instance_type             = "t3.micro"
      iam_instance_profile_name = "amibake-builder"
    }
  }
  step {
    name = "update"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters = {
        commands = ["set -e", "dnf -y upgrade"]
      }
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
      image_name  = "{{ TargetAmiName }}"
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

  outputs = ["image.ImageId"]
}

# The same kind of recipe, given as the SSM JSON or YAML a team already has.
resource "amibake_document" "from_file" {
  content = file("${path.module}/update-ami.yaml")
}
