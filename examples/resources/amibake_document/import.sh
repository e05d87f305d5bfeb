# A document is adopted from its SSM JSON or YAML file.
terraform import amibake_document.from_file file:update-ami.yaml
