# Runs one aws:executeScript PowerShell script and writes the JSON of what it
# returns to the output file; InputPayload is in $env:InputPayload.
param([string]$Script, [string]$Out)
$ErrorActionPreference = 'Stop'
$result = & $Script
if ($null -eq $result) {
    Set-Content -LiteralPath $Out -Value 'null' -NoNewline
} else {
    ConvertTo-Json -InputObject $result -Depth 20 -Compress | Set-Content -LiteralPath $Out -NoNewline
}
