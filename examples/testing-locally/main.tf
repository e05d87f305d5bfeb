# Bake against a local AWS emulator (moto_server) instead of AWS: every service
# endpoint points at the emulator and the credentials are dummies it accepts.
#   moto_server -H 127.0.0.1 -p 5000 &
#   terraform apply
# Setting AWS_ENDPOINT_URL=http://127.0.0.1:5000 instead of the endpoints block works too.
terraform {
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}

variable "endpoint" {
  type    = string
  default = "http://127.0.0.1:5000"
}

provider "amibake" {
  region     = "us-east-1"
  access_key = "testing"
  secret_key = "testing"

  endpoints {
    ec2    = var.endpoint
    ssm    = var.endpoint
    lambda = var.endpoint
    sts    = var.endpoint
    iam    = var.endpoint
  }
}

resource "amibake_image" "smoke" {
  step {
    name = "launch"
    run_instances {
      # Preloaded in moto; any id is accepted there.
      image_id      = "ami-12c6146b"
      instance_type = "t3.micro"
    }
  }
  step {
    name = "configure"
    run_command {
      document_name = "AWS-RunShellScript"
      instance_ids  = ["{{ launch.InstanceIds }}"]
      parameters = {
        commands = ["echo baked > /etc/motd"]
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
      image_name  = "smoke-{{global:DATE_TIME}}"
    }
  }

  tags = {
    purpose = "local-test"
  }
}

output "image_id" {
  value = amibake_image.smoke.image_id
}

output "steps" {
  value = [for s in amibake_image.smoke.steps : "${s.name}: ${s.status}"]
}
