# Bake a golden Linux image with an inline recipe; rebuild it every month.
resource "amibake_image" "linux" {
  parameter {
    name = "SourceAmiId"
    type = "String"
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
      image_name  = "golden-linux-{{global:DATE_TIME}}"
    }
  }

  parameters = {
    SourceAmiId = "ami-0123456789abcdef0"
  }

  triggers = {
    month = formatdate("YYYY-MM", plantimestamp())
  }

  tags = {
    Name = "golden-linux"
  }

  timeouts {
    create = "45m"
  }

  # Launch templates switch to the new image before the old one is deregistered.
  lifecycle {
    create_before_destroy = true
  }
}

# The same bake from an SSM Automation document a team already has.
resource "amibake_image" "from_document" {
  document = file("${path.module}/update-ami.json")

  parameters = {
    sourceAMIid = "ami-0123456789abcdef0"
  }
}

output "golden_ami" {
  value = amibake_image.linux.image_id
}
