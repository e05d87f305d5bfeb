# Monthly Windows Server AMI update, in the style of the AWS-UpdateWindowsAmi runbook:
# launch the latest Windows Server AMI, update the SSM agent, install Windows updates with
# AWS-InstallWindowsUpdates, generalise with Sysprep, stop, image, terminate.
terraform {
  required_providers {
    amibake = {
      source = "amibake/amibake"
    }
  }
}

provider "amibake" {
  region = var.region
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_profile" {
  type        = string
  description = "Instance profile for the builder, with the AmazonSSMManagedInstanceCore policy."
  default     = "amibake-builder"
}

variable "source_ami" {
  type        = string
  description = "AMI to update. Null takes the latest Windows Server 2022 AMI from the public SSM parameter."
  default     = null
}

variable "categories" {
  type        = string
  description = "Windows Update categories to install, comma-separated without spaces."
  default     = "CriticalUpdates,SecurityUpdates,UpdateRollups"
}

resource "amibake_image" "windows" {
  description = "Install Windows updates and create a new AMI"

  parameter {
    name        = "SourceAmiId"
    type        = "String"
    description = "AMI to update."
    default     = "{{ssm:/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base}}"
  }
  parameter {
    name        = "IamInstanceProfileName"
    type        = "String"
    description = "Instance profile that lets the SSM agent on the builder reach Systems Manager."
  }
  parameter {
    name    = "InstanceType"
    type    = "String"
    default = "t3.large"
  }
  parameter {
    name    = "TargetAmiName"
    type    = "String"
    default = "UpdateWindowsAmi_from_{{ SourceAmiId }}_on_{{global:DATE_TIME}}"
  }
  parameter {
    name            = "Categories"
    type            = "String"
    description     = "Windows Update categories, comma-separated."
    allowed_pattern = "^[A-Za-z,]*$"
  }
  parameter {
    name            = "SeverityLevels"
    type            = "String"
    description     = "MSRC severity levels, comma-separated."
    default         = "Critical,Important"
    allowed_pattern = "^[A-Za-z,]*$"
  }

  step {
    name            = "LaunchInstance"
    timeout_seconds = 1800
    run_instances {
      image_id                  = "{{ SourceAmiId }}"
      instance_type             = "{{ InstanceType }}"
      min_instance_count        = 1
      max_instance_count        = 1
      iam_instance_profile_name = "{{ IamInstanceProfileName }}"
      metadata_options          = jsonencode({ HttpTokens = "required" })
    }
  }
  step {
    name            = "OSCompatibilityCheck"
    timeout_seconds = 600
    run_command {
      document_name = "AWS-RunPowerShellScript"
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      parameters = {
        commands = [
          "$v = [System.Environment]::OSVersion.Version",
          "if ($v.Major -lt 10) { Write-Host \"Windows Server $v is older than 2016\"; exit 1 }",
        ]
      }
    }
  }
  step {
    name            = "UpdateSSMAgent"
    timeout_seconds = 600
    max_attempts    = 3
    run_command {
      document_name = "AWS-UpdateSSMAgent"
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      parameters    = { allowDowngrade = ["false"] }
    }
  }
  step {
    name            = "InstallWindowsUpdates"
    timeout_seconds = 14400
    max_attempts    = 3
    run_command {
      document_name = "AWS-InstallWindowsUpdates"
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      parameters = {
        Action         = ["Install"]
        AllowReboot    = ["True"]
        Categories     = ["{{ Categories }}"]
        SeverityLevels = ["{{ SeverityLevels }}"]
      }
    }
  }
  step {
    name            = "RunSysprepGeneralize"
    timeout_seconds = 1800
    run_command {
      document_name = "AWSEC2-RunSysprep"
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      parameters    = { Id = ["{{automation:EXECUTION_ID}}"] }
    }
  }
  step {
    name            = "StopInstance"
    timeout_seconds = 1800
    change_instance_state {
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      desired_state = "stopped"
    }
  }
  step {
    name = "CreateImage"
    create_image {
      instance_id       = "{{ LaunchInstance.InstanceIds }}"
      image_name        = "{{ TargetAmiName }}"
      image_description = "Windows updates ({{ Categories }}) installed by amibake"
      no_reboot         = true
    }
  }
  step {
    name       = "TerminateInstance"
    on_failure = "Continue"
    change_instance_state {
      instance_ids  = ["{{ LaunchInstance.InstanceIds }}"]
      desired_state = "terminated"
    }
  }

  outputs = ["CreateImage.ImageId"]

  parameters = { for k, v in {
    SourceAmiId            = var.source_ami
    IamInstanceProfileName = var.instance_profile
    Categories             = var.categories
  } : k => v if v != null }

  # Patch Tuesday is monthly: a new month plans a new image.
  triggers = {
    month = formatdate("YYYY-MM", plantimestamp())
  }

  tags = {
    Name = "windows-server-2022-updated"
    os   = "windows"
  }

  # Windows updates with reboots take hours; the default create timeout is one hour.
  timeouts {
    create = "5h"
  }

  lifecycle {
    create_before_destroy = true
  }
}

output "image_id" {
  value = amibake_image.windows.image_id
}
